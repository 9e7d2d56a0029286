package training

import (
	"math"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/mat"

	"github.com/lendhq/lend"
)

// Logistic regression limits.
const (
	maxIRLSIter = 100
	irlsTol     = 1e-9 // stop when the largest Newton step is below this
	sumChunks   = 8    // row chunks of the normal equations, summed in a fixed order
)

// logitFit is a fitted logistic regression of y (1 = bad) on x.
type logitFit struct {
	Coef   []float64 // intercept first, then one per column
	StdErr []float64
	PValue []float64
	LogLik float64
	Iter   int
}

// AIC is Akaike's information criterion, −2·logL + 2·(parameters).
func (f *logitFit) AIC() float64 { return -2*f.LogLik + 2*float64(len(f.Coef)) }

// design is a row-major n×p matrix without the intercept column.
type design struct {
	n, p int
	x    []float64
}

// fitLogit fits P(bad) = 1/(1+exp(−(b0 + x·b))) by iteratively reweighted
// least squares: each Newton step solves (XᵀWX + λI)·Δ = Xᵀ(y−μ) − λb with a
// Cholesky factorisation from gonum/mat (the intercept is not penalised).
// Standard errors come from the inverse of the final XᵀWX + λI; p-values are
// two-sided Wald tests.
func fitLogit(d design, y []int8, l2 float64) (*logitFit, error) {
	n, p := d.n, d.p
	q := p + 1
	if n == 0 {
		return nil, lend.Errorf(lend.EINVALID, "no rows to fit")
	}
	beta := make([]float64, q)
	bads := 0
	for _, v := range y {
		bads += int(v)
	}
	rate := float64(bads) / float64(n)
	if rate <= 0 || rate >= 1 {
		return nil, lend.Errorf(lend.EINVALID, "target is constant in the fitting rows")
	}
	beta[0] = math.Log(rate / (1 - rate))
	ll := logLik(d, y, beta)
	var chol mat.Cholesky
	h := mat.NewSymDense(q, nil)
	grad := mat.NewVecDense(q, nil)
	step := mat.NewVecDense(q, nil)
	it := 0
	for it = 1; it <= maxIRLSIter; it++ {
		hess, g := normalEquations(d, y, beta)
		for a := 0; a < q; a++ {
			for b := a; b < q; b++ {
				v := hess[a*q+b]
				if a == b && a > 0 {
					v += l2
				}
				h.SetSym(a, b, v)
			}
			gv := g[a]
			if a > 0 {
				gv -= l2 * beta[a]
			}
			grad.SetVec(a, gv)
		}
		if ok := chol.Factorize(h); !ok {
			return nil, lend.Errorf(lend.EINVALID, "the variables are collinear (singular information matrix)")
		}
		if err := chol.SolveVecTo(step, grad); err != nil {
			return nil, lend.Errorf(lend.EINVALID, "the variables are collinear: %v", err)
		}
		// Step halving keeps the penalised likelihood from decreasing.
		t := 1.0
		next := make([]float64, q)
		var nll float64
		for half := 0; half < 30; half++ {
			for a := range next {
				next[a] = beta[a] + t*step.AtVec(a)
			}
			nll = logLik(d, y, next) - 0.5*l2*sumSq(next[1:])
			if nll >= ll-0.5*l2*sumSq(beta[1:])-1e-12 || half == 29 {
				break
			}
			t /= 2
		}
		maxStep := 0.0
		for a := range next {
			maxStep = math.Max(maxStep, math.Abs(next[a]-beta[a]))
		}
		copy(beta, next)
		ll = logLik(d, y, beta)
		if maxStep < irlsTol {
			break
		}
	}
	for _, b := range beta {
		if math.IsNaN(b) || math.IsInf(b, 0) {
			return nil, lend.Errorf(lend.EINVALID, "logistic regression diverged (perfect separation?)")
		}
	}
	// Covariance at the optimum.
	hess, _ := normalEquations(d, y, beta)
	for a := 0; a < q; a++ {
		for b := a; b < q; b++ {
			v := hess[a*q+b]
			if a == b && a > 0 {
				v += l2
			}
			h.SetSym(a, b, v)
		}
	}
	f := &logitFit{Coef: beta, StdErr: make([]float64, q), PValue: make([]float64, q), LogLik: ll, Iter: it}
	if ok := chol.Factorize(h); ok {
		var cov mat.SymDense
		if err := chol.InverseTo(&cov); err == nil {
			for a := 0; a < q; a++ {
				se := math.Sqrt(math.Max(cov.At(a, a), 0))
				f.StdErr[a] = se
				if se > 0 {
					f.PValue[a] = math.Erfc(math.Abs(beta[a]/se) / math.Sqrt2)
				}
			}
		}
	}
	return f, nil
}

func sumSq(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x * x
	}
	return s
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

// logLik is the Bernoulli log-likelihood of beta.
func logLik(d design, y []int8, beta []float64) float64 {
	p := d.p
	s := 0.0
	for i := 0; i < d.n; i++ {
		row := d.x[i*p : i*p+p]
		z := beta[0]
		for j, v := range row {
			z += beta[j+1] * v
		}
		// log σ(z) = −log(1+e^−z), computed stably
		if y[i] == 1 {
			s -= softplus(-z)
		} else {
			s -= softplus(z)
		}
	}
	return s
}

// softplus is log(1+e^z) without overflow.
func softplus(z float64) float64 {
	if z > 30 {
		return z
	}
	return math.Log1p(math.Exp(z))
}

// normalEquations returns XᵀWX (row-major q×q, upper triangle filled) and
// Xᵀ(y−μ) with the intercept column included, split over the CPUs.
func normalEquations(d design, y []int8, beta []float64) ([]float64, []float64) {
	p, q := d.p, d.p+1
	// A fixed number of chunks, summed in chunk order, keeps the result (and
	// so the artifact bytes) independent of how many CPUs run it.
	chunks := sumChunks
	if d.n < 20000 {
		chunks = 1
	}
	hs := make([][]float64, chunks)
	gs := make([][]float64, chunks)
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for w := 0; w < chunks; w++ {
		lo, hi := w*d.n/chunks, (w+1)*d.n/chunks
		hs[w] = make([]float64, q*q)
		gs[w] = make([]float64, q)
		wg.Add(1)
		sem <- struct{}{}
		go func(hh, gg []float64) {
			defer func() { <-sem; wg.Done() }()
			xr := make([]float64, q)
			xr[0] = 1
			for i := lo; i < hi; i++ {
				copy(xr[1:], d.x[i*p:i*p+p])
				z := 0.0
				for j, v := range xr {
					z += beta[j] * v
				}
				mu := sigmoid(z)
				wt := mu * (1 - mu)
				r := float64(y[i]) - mu
				for a := 0; a < q; a++ {
					xa := xr[a]
					gg[a] += xa * r
					wa := wt * xa
					row := hh[a*q : a*q+q]
					for b := a; b < q; b++ {
						row[b] += wa * xr[b]
					}
				}
			}
		}(hs[w], gs[w])
	}
	wg.Wait()
	for w := 1; w < chunks; w++ {
		for k := range hs[0] {
			hs[0][k] += hs[w][k]
		}
		for k := range gs[0] {
			gs[0][k] += gs[w][k]
		}
	}
	return hs[0], gs[0]
}
