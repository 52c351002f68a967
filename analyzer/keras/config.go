package keras

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aigis-dev/aigis/analyzer"
	"github.com/aigis-dev/aigis/internal/jsonerr"
	"github.com/aigis-dev/aigis/internal/rules"
)

// maxConfig bounds the configuration parsed (decoded JSON costs about ten
// times its size); real configurations are at most a few MB.
const maxConfig = 8 << 20

// maxDepth bounds the walk of nested configurations.
const maxDepth = 256

// checkConfig reports what deserialising the Keras configuration cfg
// would do. loc locates the configuration in the file.
func checkConfig(cfg []byte, loc string, out *analyzer.Result) {
	rs := rules.Format("keras")
	if len(cfg) > maxConfig {
		out.Add(rules.New(rules.LimitReached, loc, fmt.Sprintf("model configuration of %d bytes exceeds the %d-byte budget; not checked", len(cfg), maxConfig)))
		return
	}
	var v any
	if err := json.Unmarshal(cfg, &v); err != nil {
		out.Add(rules.New(rules.KerasBadConfig, loc, fmt.Sprintf("model configuration is not JSON: %v", jsonerr.Clean(err))))
		return
	}
	c := &checker{rs: rs, out: out, loc: loc, seen: map[string]bool{}}
	c.walk(v, "$", 0)
}

type checker struct {
	rs   *rules.Set
	out  *analyzer.Result
	loc  string
	seen map[string]bool
}

func (c *checker) add(id rules.ID, msg string) {
	if c.seen[string(id)+msg] {
		return
	}
	c.seen[string(id)+msg] = true
	c.out.Add(rules.New(id, c.loc, msg))
}

func (c *checker) walk(v any, at string, depth int) {
	if depth > maxDepth {
		c.add("keras-bad-config", fmt.Sprintf("configuration nested deeper than %d at %s", maxDepth, at))
		return
	}
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			c.walk(e, fmt.Sprintf("%s[%d]", at, i), depth+1)
		}
	case map[string]any:
		c.object(x, at)
		for k, e := range x {
			c.walk(e, at+"."+k, depth+1)
		}
	}
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// object judges one serialised object.
func (c *checker) object(m map[string]any, at string) {
	cn := str(m, "class_name")
	cfg, _ := m["config"].(map[string]any)
	layer := str(cfg, "name")
	switch cn {
	case "Lambda", "__lambda__":
		how := "a Python function"
		if f, ok := cfg["function"].([]any); ok && len(f) > 0 {
			how = "marshalled Python bytecode"
		} else if f, ok := cfg["function"].(map[string]any); ok && str(f, "class_name") == "__lambda__" {
			how = "a serialised lambda"
		} else if cn == "__lambda__" {
			how = "a serialised lambda"
		}
		c.add("keras-lambda", fmt.Sprintf("%s layer %q at %s carries %s that runs on load", cn, layer, at, how))
	case "TFOpLambda", "SlicingOpLambda":
		if fn := str(cfg, "function"); fn != "" && c.rs.List("tf_op_functions").HasPrefix(fn) {
			c.add("keras-dangerous-function", fmt.Sprintf("%s layer %q at %s calls tf.%s", cn, layer, at, fn))
		}
	}
	module, hasModule := m["module"].(string)
	name := cn
	if cn == "function" {
		if s, ok := m["config"].(string); ok {
			name = s
		}
	}
	// A module only matters on a serialised object (with a class name); a
	// Lambda's own config records its function's module for information.
	if hasModule && module != "" && cn != "" {
		inKeras := c.rs.List("keras_modules").HasPrefix(module)
		switch {
		case inKeras && c.rs.List("dangerous_functions").Has(name):
			c.add("keras-dangerous-function", fmt.Sprintf("%s.%s at %s", module, name, at))
		case inKeras:
		default:
			d := rules.Pickle().Classify(module, name)
			if d.Action == rules.Deny {
				c.add("keras-dangerous-module", fmt.Sprintf("%s:%s at %s (%s)", module, name, at, d.Rule.ID))
			} else if c.rs.List("dangerous_functions").Has(name) {
				c.add("keras-dangerous-function", fmt.Sprintf("%s.%s at %s", module, name, at))
			} else {
				c.add("keras-external-module", fmt.Sprintf("%s.%s at %s is imported from outside Keras", module, name, at))
			}
		}
	}
	if rn := str(m, "registered_name"); strings.Contains(rn, ">") && !strings.HasPrefix(rn, "keras") {
		c.add("keras-custom-object", fmt.Sprintf("custom object %q at %s", rn, at))
	}
}
