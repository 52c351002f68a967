package verify_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigis-dev/aigis/internal/rules"
	"github.com/aigis-dev/aigis/internal/testutil"
	"github.com/aigis-dev/aigis/internal/verify"
)

const (
	vectorIdentity = "stefanb@us.ibm.com"
	vectorIssuer   = "https://sigstore.verify.ibm.com/oauth2"
)

func publicGood(t *testing.T) []byte {
	data, err := os.ReadFile(testutil.Shared(t, "vectors", "oms", "sigstore-trusted-root", "public-good.trusted_root.json"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func sigstoreVerifier(t *testing.T, trustedRoot []byte, identity, issuer string) verify.Verifier {
	tr, err := verify.LoadTrustedRoot(trustedRoot)
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.Sigstore(tr, identity, issuer)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// keylessVector is model_signing v1.1.0's keyless bundle (Rekor entry with
// inclusion proof, RFC 3161 timestamp) and its model.
func keylessVector(t *testing.T) (model string, bundle []byte) {
	dir := testutil.Shared(t, "vectors", "oms", "model-transparency", "scripts-tests", "v1.1.0-sigstore")
	bundle, err := os.ReadFile(filepath.Join(dir, "model.sig"))
	if err != nil {
		t.Fatal(err)
	}
	return dir, bundle
}

func verifyBytes(t *testing.T, model string, bundle []byte, v verify.Verifier) *verify.Result {
	t.Helper()
	res, err := verify.Model(context.Background(), model, bundle, v, verify.Options{Signature: filepath.Join(model, "model.sig")})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestSigstore_VerifiesOfflineWithEitherTrustFile(t *testing.T) {
	model, bundle := keylessVector(t)
	if r := verifyBytes(t, model, bundle, sigstoreVerifier(t, publicGood(t), vectorIdentity, vectorIssuer)); !r.OK() || r.Signer.Identity != vectorIdentity {
		t.Fatalf("%+v %v", r.Failure, failures(r))
	}
	// model_signing's --trust-config format embeds the trusted root.
	cfg, err := os.ReadFile(testutil.Shared(t, "vectors", "oms", "model-transparency", "signing-testdata", "custom_trust_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if r := verifyBytes(t, model, bundle, sigstoreVerifier(t, cfg, vectorIdentity, vectorIssuer)); !r.OK() {
		t.Fatalf("client trust config: %+v", r.Failure)
	}
}

func TestSigstore_IdentityAndIssuerMustMatchExactly(t *testing.T) {
	model, bundle := keylessVector(t)
	for _, tc := range []struct{ identity, issuer string }{
		{"someone@example.com", vectorIssuer},
		{vectorIdentity, "https://accounts.google.com"},
		{strings.ToUpper(vectorIdentity), vectorIssuer},
		{vectorIdentity, vectorIssuer + "/"},
	} {
		r := verifyBytes(t, model, bundle, sigstoreVerifier(t, publicGood(t), tc.identity, tc.issuer))
		if r.Failure == nil || r.Failure.Rule != rules.IdentityMismatch || !strings.Contains(r.Failure.Msg, vectorIdentity) {
			t.Errorf("%+v: %+v", tc, r.Failure)
		}
	}
}

// Every part of the Sigstore evidence is checked: the transparency log
// entry against the log key, its inclusion proof, the certificate chain
// against Fulcio's roots.
func TestSigstore_RejectsAlteredEvidenceOrTrust(t *testing.T) {
	model, bundle := keylessVector(t)
	// edit applies f to a fresh copy of the bundle's first log entry.
	edit := func(f func(vm, entry map[string]any)) []byte {
		var b map[string]any
		json.Unmarshal(bundle, &b)
		vm := b["verificationMaterial"].(map[string]any)
		f(vm, vm["tlogEntries"].([]any)[0].(map[string]any))
		out, _ := json.Marshal(b)
		return out
	}
	good := sigstoreVerifier(t, publicGood(t), vectorIdentity, vectorIssuer)
	for name, altered := range map[string][]byte{
		"log index":       edit(func(_, e map[string]any) { e["logIndex"] = "1" }),
		"integrated time": edit(func(_, e map[string]any) { e["integratedTime"] = "1760062341" }),
		"inclusion proof": edit(func(_, e map[string]any) {
			e["inclusionProof"].(map[string]any)["hashes"].([]any)[0] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
		}),
		"log body":       edit(func(_, e map[string]any) { e["canonicalizedBody"] = "e30=" }),
		"no log entries": edit(func(vm, _ map[string]any) { vm["tlogEntries"] = []any{} }),
	} {
		r := verifyBytes(t, model, altered, good)
		if r.OK() || r.Failure == nil {
			t.Errorf("%s altered: verified", name)
			continue
		}
		if r.Failure.Rule != rules.SigstoreUntrusted && r.Failure.Rule != rules.BundleMalformed {
			t.Errorf("%s altered: %+v", name, r.Failure)
		}
		t.Logf("%s altered: %s: %s", name, r.Failure.Rule, r.Failure.Msg)
	}
	// A trusted root without the Rekor log or the Fulcio CA trusts nothing.
	for _, drop := range []string{"tlogs", "certificateAuthorities"} {
		var tr map[string]any
		json.Unmarshal(publicGood(t), &tr)
		tr[drop] = []any{}
		data, _ := json.Marshal(tr)
		r := verifyBytes(t, model, bundle, sigstoreVerifier(t, data, vectorIdentity, vectorIssuer))
		if r.Failure == nil || r.Failure.Rule != rules.SigstoreUntrusted {
			t.Errorf("trusted root without %s: %+v", drop, r.Failure)
		}
	}
}

func TestSigstore_RequiresIdentityAndTrust(t *testing.T) {
	tr, err := verify.LoadTrustedRoot(publicGood(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify.Sigstore(tr, "", vectorIssuer); err == nil {
		t.Error("no identity accepted")
	}
	if _, err := verify.LoadTrustedRoot([]byte(`{"mediaType":"application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"}`)); err == nil {
		t.Error("a trust config without a trusted root accepted")
	}
}
