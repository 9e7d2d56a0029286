package api

import "github.com/lendhq/lend/auth"

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
	s.v1.GET("/models", notImplemented, officer)
	s.v1.POST("/models/:model_id/activate", notImplemented, officer)
	if s.cfg.Loans == nil {
		return
	}
	// Merchants act on their own objects (ownership is checked where the
	// object is read: another merchant's object is 404); services act for
	// any merchant; officers read everything but move no money.
	actors := RequireRole(auth.RoleMerchant, auth.RoleService)
	s.v1.GET("/merchants/:merchant_id/credit-line", s.getCreditLine, all)
	s.v1.GET("/credit-lines", s.listCreditLines, officer)
	s.v1.POST("/applications", s.createApplication, actors)
	s.v1.POST("/applications/:application_id/accept", s.acceptApplication, actors)
	s.v1.GET("/loans", s.listLoans, all)
	s.v1.GET("/loans/:loan_id", s.getLoan, all)
	s.v1.GET("/loans/:loan_id/schedule", s.getSchedule, all)
	s.v1.GET("/loans/:loan_id/journal", s.getJournal, officer)
	s.v1.POST("/loans/:loan_id/repayments", s.createRepayment, actors)
	s.v1.GET("/loans/:loan_id/payoff", s.getPayoff, all)
	s.v1.GET("/portfolio", s.getPortfolio, officer)
}
