package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/lendhq/lend"
	"github.com/lendhq/lend/scoring/fsregistry"
)

// ModelRegistry is what the model endpoints need of a registry
// (*fsregistry.Registry).
type ModelRegistry interface {
	// List returns every registered model and the active id ("" if none).
	List() ([]fsregistry.Entry, string, error)
	// Activate makes id the active model (idempotent); ENOTFOUND if unknown.
	Activate(id string) (fsregistry.Entry, error)
	// ActiveID is the active model's id ("" if none).
	ActiveID() (string, error)
}

// modelBody is a model as the API shows it.
type modelBody struct {
	ID          string       `json:"id"`
	CreatedAt   *string      `json:"created_at"`
	Active      bool         `json:"active"`
	ActivatedAt *time.Time   `json:"activated_at"`
	Variables   []string     `json:"variables"`
	Metrics     modelMetrics `json:"metrics"`
}

// modelMetrics summarises a model's validation on its test part.
type modelMetrics struct {
	AUC   float64 `json:"auc"`
	Gini  float64 `json:"gini"`
	KS    float64 `json:"ks"`
	Brier float64 `json:"brier"`
}

// modelList is the body of GET /v1/models.
type modelList struct {
	Items         []modelBody `json:"items"`
	ActiveModelID *string     `json:"active_model_id"`
}

func toModelBody(e fsregistry.Entry) modelBody {
	b := modelBody{ID: e.ID, Active: e.Active, Variables: e.Variables,
		Metrics: modelMetrics{AUC: e.Test.AUC, Gini: e.Test.Gini, KS: e.Test.KS, Brier: e.Test.Brier}}
	if e.CreatedAt != "" {
		created := e.CreatedAt
		b.CreatedAt = &created
	}
	if b.Variables == nil {
		b.Variables = []string{}
	}
	if e.Active && !e.ActivatedAt.IsZero() {
		t := e.ActivatedAt
		b.ActivatedAt = &t
	}
	return b
}

// registry returns the configured registry or the 501 every model endpoint
// answers without one.
func (s *Server) registry() (ModelRegistry, error) {
	if s.cfg.Models == nil {
		return nil, lend.Errorf(lend.ENOTIMPL, "this server has no model registry")
	}
	return s.cfg.Models, nil
}

// listModels: GET /v1/models (officers): every registered model, oldest first.
func (s *Server) listModels(c echo.Context) error {
	reg, err := s.registry()
	if err != nil {
		return err
	}
	entries, active, err := reg.List()
	if err != nil {
		return err
	}
	out := modelList{Items: make([]modelBody, len(entries))}
	for i, e := range entries {
		out.Items[i] = toModelBody(e)
	}
	if active != "" {
		out.ActiveModelID = &active
	}
	return WriteJSON(c, http.StatusOK, out)
}

// activateModel: POST /v1/models/:model_id/activate (officers): the model
// scores new decisions from now on. Activating the active model is a no-op.
func (s *Server) activateModel(c echo.Context) error {
	reg, err := s.registry()
	if err != nil {
		return err
	}
	id := c.Param("model_id")
	if !fsregistry.ValidID(id) {
		return lend.Errorf(lend.ENOTFOUND, "model %s not found", id)
	}
	e, err := reg.Activate(id)
	if err != nil {
		return err
	}
	Logger(c).Info("model activated", "model_id", id)
	return WriteJSON(c, http.StatusOK, toModelBody(e))
}
