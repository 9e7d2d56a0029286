package training

import (
	"os"
	"path/filepath"

	"github.com/lendhq/lend"
)

// WriteFileAtomic writes b to path through a temporary file in the same
// directory and a rename, so a reader never sees a half-written artifact or report.
func WriteFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return lend.Wrap(lend.EINVALID, err, "cannot write %s: %v", path, err)
	}
	tmp := f.Name()
	_, werr := f.Write(b)
	if werr == nil {
		werr = f.Chmod(0o644) // CreateTemp makes 0600; an artifact is meant to be shared
	}
	serr := f.Sync()
	cerr := f.Close()
	for _, e := range []error{werr, serr, cerr} {
		if e != nil {
			os.Remove(tmp)
			return lend.Wrap(lend.EINVALID, e, "cannot write %s: %v", path, e)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return lend.Wrap(lend.EINVALID, err, "cannot write %s: %v", path, err)
	}
	return nil
}
