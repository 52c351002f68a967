package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxConfigSize bounds the config file; it is user input like any other.
const maxConfigSize = 1 << 20

// loadConfig reads the optional YAML config. An explicit path (flag or
// AIGIS_CONFIG) must exist; the default locations may be absent.
func loadConfig(explicit string, getenv func(string) string) (map[string]any, error) {
	if explicit == "" {
		explicit = getenv("AIGIS_CONFIG")
	}
	candidates := []string{explicit}
	if explicit == "" {
		candidates = []string{".aigis.yaml"}
		if dir, err := os.UserConfigDir(); err == nil {
			candidates = append(candidates, filepath.Join(dir, "aigis", "config.yaml"))
		}
	}
	for _, p := range candidates {
		b, err := readBounded(p, maxConfigSize)
		if errors.Is(err, fs.ErrNotExist) && explicit == "" {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", p, err)
		}
		cfg := map[string]any{}
		if err := yaml.Unmarshal(b, &cfg); err != nil {
			return nil, fmt.Errorf("config %s: %w", p, err)
		}
		return cfg, nil
	}
	return nil, nil
}

func readBounded(p string, max int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > max {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	b := make([]byte, st.Size())
	_, err = f.ReadAt(b, 0)
	if err != nil && st.Size() > 0 {
		return nil, err
	}
	return b, nil
}

// configValue looks up flag under the verb's section ("scan:" or, for
// nested verbs, "db_import:"), then at the top level.
func configValue(cfg map[string]any, verb, flag string) (string, bool) {
	if cfg == nil {
		return "", false
	}
	if sec, ok := cfg[verb].(map[string]any); ok {
		if v, ok := sec[flag]; ok {
			return scalar(v), true
		}
	}
	if v, ok := cfg[flag]; ok {
		if _, isMap := v.(map[string]any); !isMap {
			return scalar(v), true
		}
	}
	return "", false
}

func scalar(v any) string {
	if l, ok := v.([]any); ok {
		parts := make([]string, len(l))
		for i, x := range l {
			parts[i] = fmt.Sprint(x)
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v)
}
