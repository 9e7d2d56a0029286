// Package fsregistry is a model registry in a directory: every registered
// model artifact is DIR/<id>.json (the id is the artifact's own content hash,
// so a file never changes once written) and the active model's id is
// DIR/ACTIVE, replaced atomically (temp file + rename), so a reader sees the
// old or the new id, never half of one. Several processes may share DIR.
package fsregistry

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/scoring"
)

// Limits of the registry.
const (
	// MaxModels bounds how many artifacts List reads.
	MaxModels = 1000
	// MaxIDLen bounds a model id (ids are hex content hashes).
	MaxIDLen = 64
	// activeFile holds the active model's id.
	activeFile = "ACTIVE"
)

// Entry is a registered model as listings show it.
type Entry struct {
	ID        string
	CreatedAt string // the artifact's created_at (RFC 3339)
	Variables []string
	Test      scoring.Metrics // validation figures on the test part
	Active    bool
	// ActivatedAt is when the model became active (the ACTIVE file's
	// modification time); zero unless Active.
	ActivatedAt time.Time
}

// Registry is a directory of model artifacts. Safe for concurrent use.
type Registry struct {
	dir string

	mu      sync.Mutex
	entries map[string]Entry // parsed artifacts by id (immutable files)
	// The compiled engine of the active model, valid while ACTIVE's
	// modification time and size are engStamp.
	engine   *scoring.Engine
	engineID string
	engStamp stamp
}

type stamp struct {
	mod  time.Time
	size int64
}

// Open opens (creating it if needed) the registry in dir.
func Open(dir string) (*Registry, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, lend.Wrap(lend.EINVALID, err, "models: cannot create %s: %v", dir, err)
	}
	return &Registry{dir: dir, entries: make(map[string]Entry)}, nil
}

// Dir is the registry's directory.
func (r *Registry) Dir() string { return r.dir }

// ValidID reports whether id can name a registered model (lower-case hex,
// so it can never be a path outside the directory).
func ValidID(id string) bool {
	if id == "" || len(id) > MaxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !(id[i] >= '0' && id[i] <= '9' || id[i] >= 'a' && id[i] <= 'f') {
			return false
		}
	}
	return true
}

func (r *Registry) path(id string) string { return filepath.Join(r.dir, id+".json") }

// Register stores the artifact (validated, content hash checked) under its
// id and returns the id. Registering a model twice is a no-op.
func (r *Registry) Register(m *scoring.Model) (string, error) {
	if err := m.Validate(); err != nil {
		return "", err
	}
	if !ValidID(m.ID) {
		return "", lend.FieldErrorf("id", "%q is not a content-hash model id", m.ID)
	}
	if _, err := os.Stat(r.path(m.ID)); err == nil {
		return m.ID, nil
	}
	b, err := m.Marshal()
	if err != nil {
		return "", lend.Wrap(lend.EINTERNAL, err, "encoding model %s", m.ID)
	}
	if err := writeAtomic(r.path(m.ID), b); err != nil {
		return "", err
	}
	return m.ID, nil
}

// RegisterFile registers the artifact at path.
func (r *Registry) RegisterFile(path string) (string, error) {
	m, err := scoring.LoadFile(path)
	if err != nil {
		return "", err
	}
	return r.Register(m)
}

// Seed registers the artifact at path when it exists and, when no model is
// active yet, activates it: the demo's DATA/model.json becomes the first
// active model on the first start. A missing file is not an error.
func (r *Registry) Seed(path string) error {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	id, err := r.RegisterFile(path)
	if err != nil {
		return err
	}
	active, err := r.ActiveID()
	if err != nil || active != "" {
		return err
	}
	_, err = r.Activate(id)
	return err
}

// Model reads the registered artifact id; ENOTFOUND when not registered.
func (r *Registry) Model(id string) (*scoring.Model, error) {
	if !ValidID(id) {
		return nil, lend.Errorf(lend.ENOTFOUND, "model %s not found", id)
	}
	b, err := os.ReadFile(r.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, lend.Errorf(lend.ENOTFOUND, "model %s not found", id)
	}
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "reading model %s", id)
	}
	m, err := scoring.Parse(b)
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "model %s in the registry is corrupt: %s", id, lend.ErrorMessage(err))
	}
	if m.ID != id {
		return nil, lend.Errorf(lend.EINTERNAL, "model file %s.json holds model %s", id, m.ID)
	}
	return m, nil
}

// ActiveID is the active model's id ("" when none is active).
func (r *Registry) ActiveID() (string, error) {
	id, _, err := r.readActive()
	return id, err
}

func (r *Registry) readActive() (string, stamp, error) {
	p := filepath.Join(r.dir, activeFile)
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", stamp{}, nil
	}
	if err != nil {
		return "", stamp{}, lend.Wrap(lend.EINTERNAL, err, "reading the active model")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", stamp{}, lend.Wrap(lend.EINTERNAL, err, "reading the active model")
	}
	id := strings.TrimSpace(string(b))
	if !ValidID(id) {
		return "", stamp{}, lend.Errorf(lend.EINTERNAL, "%s holds %q, not a model id", p, id)
	}
	return id, stamp{fi.ModTime(), fi.Size()}, nil
}

// Activate makes id the active model. Activating the active model changes
// nothing (its activation time stays). ENOTFOUND when id is not registered.
func (r *Registry) Activate(id string) (Entry, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, err := r.entryLocked(id)
	if err != nil {
		return Entry{}, err
	}
	m, err := r.Model(id)
	if err != nil {
		return Entry{}, err
	}
	if _, err := scoring.NewEngine(m, nil); err != nil {
		return Entry{}, lend.Wrap(lend.EUNPROCESSABLE, err, "model %s cannot score: %s", id, lend.ErrorMessage(err))
	}
	cur, _, err := r.readActive()
	if err != nil {
		return Entry{}, err
	}
	if cur != id {
		if err := writeAtomic(filepath.Join(r.dir, activeFile), []byte(id+"\n")); err != nil {
			return Entry{}, err
		}
		r.engine = nil // recompile on the next Engine call, whatever the file times say
	}
	return r.withActive(e)
}

// withActive fills e's active flag and activation time.
func (r *Registry) withActive(e Entry) (Entry, error) {
	active, st, err := r.readActive()
	if err != nil {
		return Entry{}, err
	}
	e.Active = e.ID == active
	if e.Active {
		e.ActivatedAt = st.mod.UTC().Truncate(time.Second)
	}
	return e, nil
}

// entryLocked returns the parsed summary of id, reading the file once.
func (r *Registry) entryLocked(id string) (Entry, error) {
	if e, ok := r.entries[id]; ok {
		return e, nil
	}
	m, err := r.Model(id)
	if err != nil {
		return Entry{}, err
	}
	vars := make([]string, len(m.Variables))
	for i, v := range m.Variables {
		vars[i] = v.Name
	}
	e := Entry{ID: m.ID, CreatedAt: m.CreatedAt, Variables: vars, Test: m.Metrics.Test}
	r.entries[id] = e
	return e, nil
}

// List returns every registered model, oldest created first (then by id),
// and the active id ("" when none).
func (r *Registry) List() ([]Entry, string, error) {
	names, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, "", lend.Wrap(lend.EINTERNAL, err, "listing models")
	}
	active, st, err := r.readActive()
	if err != nil {
		return nil, "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Entry
	for _, d := range names {
		id, ok := strings.CutSuffix(d.Name(), ".json")
		if !ok || d.IsDir() || !ValidID(id) {
			continue
		}
		if len(out) == MaxModels {
			return nil, "", lend.Errorf(lend.EINTERNAL, "models: more than %d artifacts in %s", MaxModels, r.dir)
		}
		e, err := r.entryLocked(id)
		if err != nil {
			return nil, "", err
		}
		if e.Active = id == active; e.Active {
			e.ActivatedAt = st.mod.UTC().Truncate(time.Second)
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].CreatedAt != out[j].CreatedAt {
			return out[i].CreatedAt < out[j].CreatedAt
		}
		return out[i].ID < out[j].ID
	})
	return out, active, nil
}

// Engine returns the compiled scoring engine of the active model, compiled
// once and reused until the active model changes (in this process or
// another: ACTIVE's modification time and size are checked on each call).
// ENOTFOUND when no model is active.
func (r *Registry) Engine() (*scoring.Engine, error) {
	id, st, err := r.readActive()
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, lend.Errorf(lend.ENOTFOUND, "no model is active: activate one with POST /v1/models/{id}/activate")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.engine != nil && r.engineID == id && r.engStamp == st {
		return r.engine, nil
	}
	m, err := r.Model(id)
	if err != nil {
		return nil, err
	}
	eng, err := scoring.NewEngine(m, nil)
	if err != nil {
		return nil, err
	}
	r.engine, r.engineID, r.engStamp = eng, id, st
	return eng, nil
}

// writeAtomic writes b to path through a synced temp file and a rename, then
// syncs the directory, so path holds the old or the new content after a crash.
func writeAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "writing %s", path)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	_, werr := f.Write(b)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "writing %s", path)
	}
	if err := os.Rename(tmp, path); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "writing %s", path)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
