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

	// Resource endpoints (credit lines, applications, loans, portfolio,
	// models) are registered here as they are built, e.g.:
	//	s.v1.GET("/merchants/:merchant_id/credit-line", s.getCreditLine, all)
	//	s.v1.POST("/loans/:loan_id/repayments", s.repay, RequireRole(auth.RoleMerchant, auth.RoleService))
}
