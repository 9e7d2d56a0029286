package api

import (
	"github.com/labstack/echo/v4"
	"github.com/lendhq/lend/auth"
)

// routes is the one table of endpoints. Every route here has a path in
// openapi.yaml; the test suite validates every response against it.
//
// Routes on s.v1 are authenticated, rate-limited per key, and every POST is
// idempotent (Idempotency-Key required). Guard each with RequireRole; enforce
// merchant ownership where the object is read (auth.CheckMerchant /
// auth.MerchantScope → 404 for another merchant's object).
func (s *Server) routes() {
	// No key needed.
	s.e.GET("/healthz", s.healthz)
	s.e.GET("/readyz", s.readyz)
	s.e.GET("/metrics", s.metricsHandler())
	s.e.GET("/openapi.yaml", s.openapi)

	all := RequireRole(auth.RoleMerchant, auth.RoleOfficer, auth.RoleService)
	s.v1.GET("/me", s.me, all)
	s.v1.GET("/keys", s.listKeys, RequireRole(auth.RoleOfficer))

	officer := RequireRole(auth.RoleOfficer)
	s.v1.GET("/models", s.listModels, officer)
	s.v1.POST("/models/:model_id/activate", s.activateModel, officer)
	if s.cfg.Loans == nil {
		return
	}
	// Merchants act on their own objects (ownership is checked where the
	// object is read: another merchant's object is 404); services act for
	// any merchant; officers read everything but move no money.
	actors := RequireRole(auth.RoleMerchant, auth.RoleService)
	s.v1.GET("/merchants/:merchant_id/credit-line", s.getCreditLine, all)
	s.command("/merchants/:merchant_id/draws", s.createDraw, actors)
	s.v1.GET("/merchants/:merchant_id/credit-line/history", s.getCreditLineHistory, all)
	s.command(ingestPath[len("/v1"):], s.ingestTransactions, RequireRole(auth.RoleService))
	s.v1.GET("/credit-lines", s.listCreditLines, officer)
	s.command("/applications", s.createApplication, actors)
	s.command("/applications/:application_id/accept", s.acceptApplication, actors)
	s.v1.GET("/loans", s.listLoans, all)
	s.v1.GET("/loans/:loan_id", s.getLoan, all)
	s.v1.GET("/loans/:loan_id/schedule", s.getSchedule, all)
	s.v1.GET("/loans/:loan_id/journal", s.getJournal, officer)
	s.command("/loans/:loan_id/repayments", s.createRepayment, actors)
	s.v1.GET("/loans/:loan_id/payoff", s.getPayoff, all)
	s.v1.GET("/portfolio", s.getPortfolio, officer)
}

// command registers a POST under /v1 that is exactly one loans-store command
// (one Store call with storeCmd): its idempotency is the store's, kept in the
// command's own transaction, instead of a separate HTTP record (idempotency.go).
// Its handler's response must be a pure function of the store's result.
// ingestPath is the route of transaction ingestion, whose body limit is
// IngestBodyLimitBytes.
const ingestPath = "/v1/merchants/:merchant_id/transactions"

func (s *Server) command(path string, h func(c echo.Context) error, m ...echo.MiddlewareFunc) {
	s.v1.POST(path, h, m...)
	s.cmdRoutes["/v1"+path] = true
}
