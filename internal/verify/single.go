package verify

import (
	"strings"

	"github.com/aigis-dev/aigis/internal/oms"
)

// SignedSingleFile reads, without verifying it, the base name of the one
// file a bundle signs. It returns "" when the bundle does not parse, signs
// a directory (even one holding a single file), or does not name its file
// (model_signing v0.2.0 bundles). It only chooses between candidate
// bundles; Model still verifies the chosen one in full.
//
// A single file is named "." with the file's name as the subject
// (model_signing's naming) or by its base name both as resource and
// subject (the OMS text's naming); a directory's subject is the
// directory's name.
func SignedSingleFile(bundle []byte) string {
	b, err := oms.ParseBundle(bundle)
	if err != nil {
		return ""
	}
	m, err := oms.ParseStatement(b.Envelope.Payload)
	if err != nil || m.Legacy {
		return ""
	}
	name := ""
	for _, r := range m.Resources {
		n := r.Name
		if m.Serialization.Method == oms.MethodShards {
			n, _, _, _ = oms.ParseShardName(r.Name)
		}
		if name != "" && n != name {
			return ""
		}
		name = n
	}
	switch {
	case name == "." && validBase(m.ModelName):
		return m.ModelName
	case name == m.ModelName && validBase(name):
		return name
	}
	return ""
}

func validBase(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, `/\`)
}
