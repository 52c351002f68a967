package jsonerr

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestClean(t *testing.T) {
	var v struct {
		MediaType string `json:"mediaType"`
		Env       struct {
			Payload []byte `json:"payload"`
		} `json:"dsseEnvelope"`
		N int `json:"n"`
	}
	for doc, want := range map[string]string{
		`{"mediaType": 5}`:                 "field mediaType holds a JSON number where a string belongs",
		`{"dsseEnvelope": {"payload": 5}}`: "field dsseEnvelope.payload holds a JSON number where a base64 string belongs",
		`{"n": "x"}`:                       "field n holds a JSON string where an integer belongs",
		`{"n": 1,}`:                        "invalid JSON at byte",
		`[1]`:                              "holds a JSON array where an object belongs",
	} {
		err := Clean(json.Unmarshal([]byte(doc), &v))
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "Go ") {
			t.Errorf("%s: %v", doc, err)
		}
	}
}
