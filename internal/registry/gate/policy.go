package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"
)

// DefaultPolicy is the shipped policy: it rejects a version with a file the
// scan engine calls malicious, invalid or inconclusive, a version no
// trusted signer signed exactly as it is, a version that declares no
// licence or a licence outside the allowlist, and a version whose
// lockfiles or requirements name a known-malicious package.
//
// A policy is one CEL expression over `input` (the gate results,
// docs/registry.md) that yields the list of reasons to reject the version
// (an empty list allows it), or a bool (true allows).
const DefaultPolicy = `// aigis registry default policy: each entry is a reason to reject.
// A directory whose verdict is only its files' (repo-contents) is
// reported through those files.
input.scan.files
  .filter(f, f.verdict in ["malicious", "invalid", "inconclusive"] && f.worst_rule != "repo-contents")
  .map(f, "scan: " + f.path + " is " + f.verdict + (f.worst_rule != "" ? " (" + f.worst_rule + ")" : ""))
+ (input.signature.verified ? [] :
   size(input.signature.bundles) == 0 ? ["signature: the model is not signed (no OMS bundle is attached or inside it)"] :
   input.signature.bundles.map(b, "signature: " + b.source + " " + b.ref + " does not verify: " + b.error))
+ (size(input.licenses.found) == 0 ? ["licence: the model declares no licence"] : [])
+ input.licenses.found
  .filter(l, !l.allowed)
  .map(l, "licence: " + l.declared + " (" + l.source + ") is not in the namespace's allowlist")
+ input.deps.manifests
  .filter(m, m.verdict == "malicious")
  .map(m, "deps: " + m.path + " requires a malicious package (" +
       m.findings.filter(x, x.verdict == "malicious").map(x, x.rule + " " + x.location).join(", ") + ")")
`

// Bounds of a policy.
const (
	maxPolicyBytes = 64 << 10
	maxPolicyDepth = 64
	policyTimeout  = 10 * time.Second
)

// policy is a compiled policy.
type policy struct {
	prg cel.Program
}

// policyEnv is the one CEL environment: input, the strings extension
// (join, split, lowerAscii, ...), and parser bounds. Programs made from
// it are safe for concurrent use.
var policyEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("input", cel.MapType(cel.StringType, cel.DynType)),
		ext.Strings(),
		cel.CrossTypeNumericComparisons(true),
		cel.ParserExpressionSizeLimit(maxPolicyBytes),
		cel.ParserRecursionLimit(maxPolicyDepth),
	)
})

// CheckPolicy compiles a policy as Run would, so that an operator can be
// told of a mistake when the policy is configured rather than at the
// first push.
func CheckPolicy(src string, lim Limits) error {
	_, err := compilePolicy(src, lim.withDefaults())
	return err
}

func compilePolicy(src string, lim Limits) (*policy, error) {
	if src == "" {
		src = DefaultPolicy
	}
	if len(src) > maxPolicyBytes {
		return nil, fmt.Errorf("the policy is %d bytes, more than the %d-byte limit", len(src), maxPolicyBytes)
	}
	env, err := policyEnv()
	if err != nil {
		return nil, err
	}
	ast, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("the policy does not compile: %v", iss.Err())
	}
	switch out := ast.OutputType(); {
	case out.IsExactType(types.BoolType), out.IsExactType(types.DynType),
		out.Kind() == types.ListKind:
	default:
		return nil, fmt.Errorf("the policy yields %s; it must yield a list of reasons (strings) or a bool", out)
	}
	prg, err := env.Program(ast, cel.CostLimit(lim.PolicyCost), cel.InterruptCheckFrequency(64))
	if err != nil {
		return nil, fmt.Errorf("the policy cannot run: %v", err)
	}
	return &policy{prg: prg}, nil
}

// eval runs the policy over the input and returns the reasons it gives to
// reject (none: allowed). An evaluation that fails (a missing field, the
// cost limit, a result of the wrong type) is an error: the gate fails.
func (p *policy) eval(ctx context.Context, in map[string]any) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, policyTimeout)
	defer cancel()
	val, _, err := p.prg.ContextEval(ctx, map[string]any{"input": in})
	if err != nil {
		return nil, fmt.Errorf("the policy failed: %v", err)
	}
	if b, ok := val.Value().(bool); ok {
		if b {
			return nil, nil
		}
		return []string{"the policy does not allow the version"}, nil
	}
	native, err := val.ConvertToNative(reflect.TypeOf([]string{}))
	if err != nil {
		return nil, fmt.Errorf("the policy must yield a list of strings or a bool, not %s", val.Type().TypeName())
	}
	var out []string
	for _, r := range native.([]string) {
		out = append(out, truncate(r, maxMessageBytes))
	}
	return out, nil
}

// policyInput is the policy's input: the JSON of the version and Input,
// decoded as CEL reads it (integral numbers as ints).
func policyInput(in *Input) (map[string]any, error) {
	b, err := json.Marshal(struct {
		Version string `json:"version"`
		*Input
	}{Version, in})
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	v, ok := ints(m).(map[string]any)
	if !ok {
		return nil, errors.New("the input is not an object")
	}
	return v, nil
}

// ints turns integral JSON numbers into int64, so that a policy may write
// input.scan.counts.clean > 0 and size(x) == input.artifact.files.
func ints(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = ints(e)
		}
	case []any:
		for i, e := range x {
			x[i] = ints(e)
		}
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x)
		}
	}
	return v
}
