package api

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// OpenAPI is the OpenAPI 3 document of the API, served at /openapi.yaml. The
// test suite validates every response it receives against it.
//
//go:embed openapi.yaml
var OpenAPI []byte

func (s *Server) openapi(c echo.Context) error {
	return writeBlob(c, http.StatusOK, "application/yaml", OpenAPI)
}
