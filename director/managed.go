package director

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lvsd/lb/director/table"
)

// ManagedStore persists the keys of the services lbd manages.
type ManagedStore interface {
	Load() ([]table.ServiceKey, error)
	Save([]table.ServiceKey) error
}

// FileStore is a ManagedStore in a JSON file (lbd: STATE_DIR/ipvs-managed.json).
type FileStore struct {
	Path string
}

type managedFile struct {
	Services []table.ServiceKey `json:"services"`
}

// Load reads the keys; a missing file is an empty set.
func (f FileStore) Load() ([]table.ServiceKey, error) {
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.Path, err)
	}
	var m managedFile
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse %s: %w", f.Path, err)
	}
	return m.Services, nil
}

// Save writes the keys atomically (temporary file and rename).
func (f FileStore) Save(keys []table.ServiceKey) error {
	b, err := json.MarshalIndent(managedFile{Services: keys}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode managed services: %w", err)
	}
	dir := filepath.Dir(f.Path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, ".ipvs-managed-*")
	if err != nil {
		return fmt.Errorf("save managed services: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), f.Path); err != nil {
		return fmt.Errorf("save %s: %w", f.Path, err)
	}
	return nil
}
