package oms

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func sampleBundle(t testing.TB) *Bundle {
	return &Bundle{
		Material:  MaterialKey,
		PublicKey: &PublicKey{Hint: "e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e"},
		Envelope: Envelope{
			PayloadType: PayloadType,
			Payload:     validStatement(t),
			Signatures:  []Signature{{Sig: []byte{0x30, 0x01, 0x02}}},
		},
	}
}

func TestBundle_MarshalIsWhatModelSigningWrites(t *testing.T) {
	b := sampleBundle(t)
	out, err := b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e"},"tlogEntries":[]},"dsseEnvelope":{"payload":"`
	if !strings.HasPrefix(string(out), want) || !strings.HasSuffix(string(out), `"payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"MAEC","keyid":""}]}}`) {
		t.Errorf("unexpected layout:\n%s", out)
	}
	back, err := ParseBundle(out)
	if err != nil {
		t.Fatal(err)
	}
	if back.Material != MaterialKey || back.PublicKey.Hint != b.PublicKey.Hint || !bytes.Equal(back.Envelope.Payload, b.Envelope.Payload) || !bytes.Equal(back.Envelope.Signatures[0].Sig, []byte{0x30, 1, 2}) {
		t.Errorf("round trip: %+v", back)
	}

	b.Material, b.PublicKey, b.Certificates = MaterialCertificateChain, nil, [][]byte{{1, 2, 3}, {4, 5}}
	out, err = b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err = ParseBundle(out)
	if err != nil || back.Material != MaterialCertificateChain || len(back.Certificates) != 2 || !bytes.Equal(back.Certificates[1], []byte{4, 5}) {
		t.Errorf("certificate round trip: %+v %v\n%s", back, err, out)
	}
}

func TestParseBundle_RejectsMalformedBundles(t *testing.T) {
	good, err := sampleBundle(t).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	g := string(good)
	swap := func(old, new string) string {
		if !strings.Contains(g, old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return strings.Replace(g, old, new, 1)
	}
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "empty"},
		{"whitespace", " \n", "empty"},
		{"garbage", `{"not": "valid json`, "not a JSON"},
		{"truncated", g[:100], "not a JSON"},
		{"array", `[]`, "not a JSON"},
		{"no media type", swap(`"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json",`, ""), "no mediaType"},
		{"wrong media type", swap("application/vnd.dev.sigstore.bundle.v0.3+json", "application/json"), "not a Sigstore bundle media type"},
		{"no material", `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","dsseEnvelope":{}}`, "no verificationMaterial"},
		{"empty material", swap(`"publicKey":{"hint":"e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e"},`, ""), "no publicKey"},
		{"two materials", swap(`"tlogEntries"`, `"certificate":{"rawBytes":"AQID"},"tlogEntries"`), "more than one"},
		{"empty key", swap(`{"hint":"e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e"}`, `{}`), "neither a hint nor rawBytes"},
		{"sigstore without tlog", swap(`"publicKey":{"hint":"e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e"}`, `"certificate":{"rawBytes":"AQID"}`), "transparency log"},
		{"empty chain", swap(`"publicKey":{"hint":"e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e"}`, `"x509CertificateChain":{"certificates":[]}`), "no certificates"},
		{"bad cert base64", swap(`"publicKey":{"hint":"e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e"}`, `"x509CertificateChain":{"certificates":[{"rawBytes":"!!"}]}`), "not base64"},
		{"no envelope", `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"x"}}}`, "no dsseEnvelope"},
		{"message signature", `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"x"}},"messageSignature":{}}`, "messageSignature"},
		{"wrong payload type", swap(`"payloadType":"application/vnd.in-toto+json"`, `"payloadType":"application/json"`), "payloadType"},
		{"no payload type", swap(`,"payloadType":"application/vnd.in-toto+json"`, ""), "no payloadType"},
		{"payload not base64", swap(`"payload":"`, `"payload":"%%%`), "not base64"},
		{"no signatures", swap(`[{"sig":"MAEC","keyid":""}]`, `[]`), "no signatures"},
		{"empty signature", swap(`"sig":"MAEC"`, `"sig":""`), "signature 0 is empty"},
		{"keyid not a string", swap(`"keyid":""`, `"keyid":7`), "not a JSON"},
		{"too many signatures", swap(`[{"sig":"MAEC","keyid":""}]`, "["+strings.Repeat(`{"sig":"MAEC"},`, MaxSignatures)+`{"sig":"MAEC"}]`), "limit"},
	} {
		_, err := ParseBundle([]byte(tc.in))
		var fe *FormatError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want a FormatError mentioning %q", tc.name, err, tc.want)
		}
	}
}

func TestParseBundle_AcceptsLegacyFields(t *testing.T) {
	pem := "-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----\n"
	in := `{"mediaType":"application/vnd.dev.sigstore.bundle+json;version=0.3","verificationMaterial":{"publicKey":{"rawBytes":"` +
		base64.StdEncoding.EncodeToString([]byte(pem)) + `","keyDetails":"PKIX_ECDSA_P384_SHA_384"}},"dsseEnvelope":{"payload":"e30","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"MAEC","keyid":null}]}}`
	b, err := ParseBundle([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if string(b.PublicKey.RawBytes) != pem || b.PublicKey.KeyDetails != "PKIX_ECDSA_P384_SHA_384" || string(b.Envelope.Payload) != "{}" {
		t.Errorf("%+v", b.PublicKey)
	}
}

func TestParseBundle_SizeLimit(t *testing.T) {
	big := make([]byte, MaxBundleSize+1)
	big[0] = '{'
	if _, err := ParseBundle(big); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("oversized bundle: %v", err)
	}
}

func TestDecodeBase64AcceptsEveryProtobufForm(t *testing.T) {
	for in, want := range map[string]string{"+//+": "fbfffe", "-__-": "fbfffe", "+/8": "fbff", "-_8=": "fbff", "+/8=": "fbff"} {
		got, err := decodeBase64(in)
		if err != nil || hex.EncodeToString(got) != want {
			t.Errorf("decodeBase64(%q) = %x %v, want %s", in, got, err, want)
		}
	}
	if _, err := decodeBase64("+/9="); err == nil {
		t.Error("non-canonical padding bits accepted")
	}
}

func TestPAE(t *testing.T) {
	// The DSSE spec's example.
	if got := string(PAE("http://example.com/HelloWorld", []byte("hello world"))); got != "DSSEv1 29 http://example.com/HelloWorld 11 hello world" {
		t.Error(got)
	}
}

// LegacyPAE must equal what Python 3 produced with f"... {payload_bytes}".
func TestLegacyPAE_PythonBytesRepr(t *testing.T) {
	for in, want := range map[string]string{
		"{\"a\": 1}\n":    `b'{"a": 1}\n'`,
		"it's":            `b"it's"`,
		"it's \"quoted\"": `b'it\'s "quoted"'`,
		"tab\tcr\r\\":     `b'tab\tcr\r\\'`,
		"\x00\x7f\xff é":  `b'\x00\x7f\xff \xc3\xa9'`,
		"":                `b''`,
	} {
		if got := pyBytesRepr([]byte(in)); got != want {
			t.Errorf("pyBytesRepr(%q) = %s, want %s", in, got, want)
		}
	}
	if got := string(LegacyPAE(PayloadType, []byte("{}"))); got != "DSSEV1 28 application/vnd.in-toto+json 2 b'{}'" {
		t.Error(got)
	}
}
