package sqlite

import (
	"bufio"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lendhq/lend/loans"
)

// Crash test parameters.
const (
	crashRepayments = 3000 // repayments the child applies in total
	crashWorkers    = 8    // concurrent submitters in the child (exercises group commit)
	crashKills      = 8    // SIGKILLs before the final uninterrupted run
)

// TestMain lets the test binary re-exec itself as the crash-test child.
func TestMain(m *testing.M) {
	if os.Getenv("LOANS_CRASH_CHILD") == "1" {
		crashChild(os.Getenv("LOANS_CRASH_DB"), os.Getenv("LOANS_CRASH_ACKS"))
		return
	}
	os.Exit(m.Run())
}

// crashChild applies repayments r0..rN of 1 minor unit each to loan 1 with
// idempotency keys "r<i>", appending "i\n" to the ack file only after the
// store acknowledged the commit. It restarts from 0: replays are idempotent.
func crashChild(db, acks string) {
	s, err := Open(db, loans.Policy{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	f, err := os.OpenFile(acks, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		os.Exit(3)
	}
	var mu sync.Mutex
	next := 0
	var wg sync.WaitGroup
	for w := 0; w < crashWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= crashRepayments {
					return
				}
				_, err := s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "r" + strconv.Itoa(i)},
					loans.RepayRequest{LoanID: 1, AmountMinor: 1, ValueDate: "2024-01-02"})
				if err != nil {
					fmt.Fprintln(os.Stderr, "repay:", err)
					os.Exit(4)
				}
				mu.Lock()
				fmt.Fprintf(f, "%d\n", i) // written to the kernel before the next repayment starts
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	s.Close()
	os.Exit(0)
}

// TestCrashAcknowledgedRepaymentsSurvive kills a child process applying
// repayments at random moments; after every restart each acknowledged
// repayment is present exactly once and the ledger reconciles.
func TestCrashAcknowledgedRepaymentsSurvive(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test spawns processes")
	}
	dir := t.TempDir()
	db, acks := filepath.Join(dir, "lend.db"), filepath.Join(dir, "acks")
	{
		s, err := Open(db, loans.Policy{})
		if err != nil {
			t.Fatal(err)
		}
		s.now = func() time.Time { return day("2024-01-01") }
		line(t, s, "m1", 10_000_000, "0")
		// A zero-rate interest-only loan: each 1-minor repayment is 1 of principal.
		r0 := loans.Rate(0)
		app, err := s.CreateApplication(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "a"}, loans.Application{Currency: "EUR",
			AmountMinor: 5_000_000, Method: loans.InterestOnly, Decision: loans.DecisionApproved, Offer: &loans.Offer{AmountMinor: 5_000_000, APR: r0, TermPeriods: 1}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AcceptApplication(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "b"}, loans.AcceptRequest{ApplicationID: app.ID, On: "2024-01-01"}); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	rng := rand.New(rand.NewSource(1))
	for round := 0; round <= crashKills; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "LOANS_CRASH_CHILD=1", "LOANS_CRASH_DB="+db, "LOANS_CRASH_ACKS="+acks)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if round < crashKills {
			time.Sleep(time.Duration(50+rng.Intn(400)) * time.Millisecond)
			_ = cmd.Process.Kill() // SIGKILL
			_ = cmd.Wait()
		} else if err := cmd.Wait(); err != nil {
			t.Fatalf("final run: %v", err)
		}
		verifyCrash(t, db, acks, round == crashKills)
	}
}

func verifyCrash(t *testing.T, db, acks string, complete bool) {
	t.Helper()
	s, err := Open(db, loans.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	acked := map[int]bool{}
	f, err := os.Open(acks)
	if err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if i, err := strconv.Atoi(line); err == nil {
				acked[i] = true
			}
		}
		f.Close()
	}
	counts := map[string]int{}
	rows, err := s.db.Query(`SELECT idempotency_key FROM repayments WHERE loan_id = 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		rows.Scan(&k)
		counts[k]++
	}
	rows.Close()
	for k, n := range counts {
		if n != 1 {
			t.Fatalf("repayment %s stored %d times", k, n)
		}
	}
	for i := range acked {
		if counts["r"+strconv.Itoa(i)] != 1 {
			t.Fatalf("acknowledged repayment r%d lost", i)
		}
	}
	l, _ := s.Loan(ctx, 1)
	if l.PrincipalRepaidMinor != int64(len(counts)) {
		t.Fatalf("principal repaid %d, repayments %d", l.PrincipalRepaidMinor, len(counts))
	}
	if complete && len(counts) != crashRepayments {
		t.Fatalf("final run: %d repayments, want %d", len(counts), crashRepayments)
	}
	t.Logf("acked %d, stored %d", len(acked), len(counts))
	mustReconcile(t, s)
}
