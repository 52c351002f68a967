package monitor

import (
	"encoding/json"
	"math"
)

// MarshalJSON writes a NaN p-value (a statistic without one) as null.
func (p Point) MarshalJSON() ([]byte, error) {
	type alias Point
	return json.Marshal(struct {
		alias
		Stat      *float64 `json:"stat"`
		Threshold *float64 `json:"threshold"`
		P         *float64 `json:"p_value"`
	}{alias(p), finite(p.Stat), finite(p.Threshold), finite(p.P)})
}

// MarshalJSON writes non-finite numbers (an infinite difference, an
// undefined statistic) as null, so that no alert breaks the encoder.
func (a Alert) MarshalJSON() ([]byte, error) {
	type alias Alert
	return json.Marshal(struct {
		alias
		Value     *float64 `json:"value"`
		Threshold *float64 `json:"threshold"`
		P         *float64 `json:"p_value,omitempty"`
		Evidence  Evidence `json:"evidence"`
	}{alias(a), finite(a.Value), finite(a.Threshold), a.finiteP(), Evidence{RequestIDs: a.Evidence.RequestIDs, Details: cleanMap(a.Evidence.Details)}})
}

func (a Alert) finiteP() *float64 {
	if a.P == nil {
		return nil
	}
	return finite(*a.P)
}

func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func cleanMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = clean(v)
	}
	return out
}

func clean(v any) any {
	switch x := v.(type) {
	case float64:
		if f := finite(x); f != nil {
			return *f
		}
		return nil
	case map[string]any:
		return cleanMap(x)
	case []map[string]any:
		out := make([]map[string]any, len(x))
		for i, e := range x {
			out[i] = cleanMap(e)
		}
		return out
	case map[string]float64:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = clean(e)
		}
		return out
	}
	return v
}
