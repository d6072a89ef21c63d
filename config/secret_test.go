package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// markers are the secret values that no output may contain.
var markers = []string{"S3cr3t-PW-1", "tok-ABC123", "pw-in-url", "q-456"}

// checkNoMarkers fails the test if output contains any marker.
func checkNoMarkers(t *testing.T, what, output string) {
	t.Helper()
	for _, m := range markers {
		if strings.Contains(output, m) {
			t.Errorf("%s contains %q:\n%s", what, m, output)
		}
	}
}

// printers renders a value in every way that code or a log might.
var printers = []struct {
	name  string
	print func(v any) (string, error)
}{
	{"%v", func(v any) (string, error) { return fmt.Sprintf("%v", v), nil }},
	{"%s", func(v any) (string, error) { return fmt.Sprintf("%s", v), nil }},
	{"%q", func(v any) (string, error) { return fmt.Sprintf("%q", v), nil }},
	{"%#v", func(v any) (string, error) { return fmt.Sprintf("%#v", v), nil }},
	{"%+v", func(v any) (string, error) { return fmt.Sprintf("%+v", v), nil }},
	{"%x", func(v any) (string, error) { return fmt.Sprintf("%x", v), nil }},
	{"%d", func(v any) (string, error) { return fmt.Sprintf("%d", v), nil }},
	{"slog text", func(v any) (string, error) { return logWith(v, false), nil }},
	{"slog json", func(v any) (string, error) { return logWith(v, true), nil }},
	{"json", func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	}},
	{"yaml", func(v any) (string, error) {
		b, err := yaml.Marshal(v)
		return string(b), err
	}},
}

func logWith(v any, asJSON bool) string {
	var buf bytes.Buffer
	var h slog.Handler = slog.NewTextHandler(&buf, nil)
	if asJSON {
		h = slog.NewJSONHandler(&buf, nil)
	}
	slog.New(h).Info("value", "v", v)
	return buf.String()
}

func mustParseURL(t *testing.T, s string) URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return URL{u}
}

func TestSecretAndURLNeverPrint(t *testing.T) {
	secretURL := mustParseURL(t, "https://user:pw-in-url@api.example.com/health?token=q-456&page=2")
	type holder struct {
		Key Secret
		URL URL
	}
	values := []struct {
		name string
		v    any
	}{
		{"Secret", NewSecret("S3cr3t-PW-1")},
		{"*Secret", new(NewSecret("S3cr3t-PW-1"))},
		{"URL", secretURL},
		{"*URL", &secretURL},
		{"struct", holder{Key: NewSecret("tok-ABC123"), URL: secretURL}},
		{"*struct", &holder{Key: NewSecret("tok-ABC123"), URL: secretURL}},
		{"PagerDutyContact", PagerDutyContact{RoutingKey: NewSecret("S3cr3t-PW-1")}},
		{"Endpoint", &Endpoint{Name: "api", URL: secretURL}},
	}
	for _, v := range values {
		for _, p := range printers {
			t.Run(v.name+"/"+p.name, func(t *testing.T) {
				out, err := p.print(v.v)
				if err != nil {
					t.Fatalf("printing: %v", err)
				}
				checkNoMarkers(t, p.name+" output", out)
			})
		}
	}
}

func TestSecretPrintsPlaceholder(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{"String", NewSecret("S3cr3t-PW-1").String(), "<secret>"},
		{"empty String", NewSecret("").String(), ""},
		{"%#v", fmt.Sprintf("%#v", NewSecret("S3cr3t-PW-1")), `"<secret>"`},
		{"Value", NewSecret("S3cr3t-PW-1").Value(), "S3cr3t-PW-1"},
		{"%q", fmt.Sprintf("%q", NewSecret("S3cr3t-PW-1")), `"<secret>"`},
		{"%d", fmt.Sprintf("%d", NewSecret("S3cr3t-PW-1")), "<secret>"},
		{"json", mustJSONString(t, NewSecret("S3cr3t-PW-1")), "<secret>"},
		{"zero Value", Secret{}.Value(), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

// mustJSONString marshals v, which must encode as a JSON string, and
// returns that string.
func mustJSONString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s is not a JSON string: %v", b, err)
	}
	return s
}

func TestRedactURL(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"password", "https://user:pw-in-url@api.example.com/", "https://user:xxxxx@api.example.com/"},
		{"user only, usually a token", "https://user@api.example.com/", "https://xxxxx@api.example.com/"},
		{"token query", "https://api.example.com/h?token=q-456&page=2", "https://api.example.com/h?token=xxxxx&page=2"},
		{"names with secret words", "https://x.example/?api_key=1&Signature=2&X-Amz-Credential=3&sessionid=4&q=5",
			"https://x.example/?api_key=xxxxx&Signature=xxxxx&X-Amz-Credential=xxxxx&sessionid=xxxxx&q=5"},
		{"escaped name", "https://x.example/?%74oken=q-456", "https://x.example/?%74oken=xxxxx"},
		// url.ParseQuery drops a pair with a semicolon, so redaction must
		// not rely on it.
		{"semicolon", "https://x.example/?a=1;token=q-456", "https://x.example/?a=1;token=xxxxx"},
		{"unparsable pair", "https://x.example/?token=q-456%zz", "https://x.example/?token=xxxxx"},
		{"fragment", "https://x.example/cb#access_token=q-456&state=s", "https://x.example/cb#access_token=xxxxx&state=s"},
		{"opaque", "http:user:pw-in-url@api.example.com", "http:xxxxx"},
		{"nothing secret", "https://api.example.com/health?page=2", "https://api.example.com/health?page=2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := url.Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			before := u.String()
			if got := RedactURL(u); got != tc.want {
				t.Errorf("RedactURL(%s) = %s, want %s", tc.in, got, tc.want)
			}
			if after := u.String(); after != before {
				t.Errorf("RedactURL changed its argument from %s to %s", before, after)
			}
		})
	}
}

func TestURLParseErrorHidesURL(t *testing.T) {
	urls := []string{
		"https://user:pw-in-url/x@api.example.com:tok-ABC123/health",
		"https://api.example.com/%zzq-456",
		"https://user:pw-in-url@api example.com/",
		"http://[::1:tok-ABC123/",
		"https://api.example.com/\x7fq-456",
	}
	for _, raw := range urls {
		t.Run(raw, func(t *testing.T) {
			var u URL
			errs := u.decodeNode(&yaml.Node{Kind: yaml.ScalarNode, Value: raw, Line: 1, Column: 1})
			if len(errs) != 1 {
				t.Fatalf("decodeNode returned %d problems, want 1", len(errs))
			}
			checkNoMarkers(t, "message", errs[0].msg)
			if !strings.HasPrefix(errs[0].msg, "invalid URL: ") {
				t.Errorf("message = %q, want it to start with %q", errs[0].msg, "invalid URL: ")
			}
		})
	}
}

// TestLoadedConfigNeverPrintsSecrets loads a config that holds every marker
// and checks each way of printing the whole Config, and the problems of a
// config that fails to load.
func TestLoadedConfigNeverPrintsSecrets(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"apiwatch.yml": `
companies:
  - name: acme
    contacts:
      pagerduty:
        - routing_key: S3cr3t-PW-1
        - routing_key_file: acme.key
    endpoints:
      - name: api
        url: https://user:pw-in-url@api.example.com/health?token=q-456
`,
		"acme.key": "tok-ABC123\n",
		"bad.yml": `
companies:
  - name: acme
    contacts:
      pagerduty:
        - routing_key: S3cr3t-PW-1
          routing_key_file: acme.key
    endpoints:
      - name: api
        url: "https://user:pw-in-url/x@api.example.com:tok-ABC123/?token=q-456"
      - name: ftp
        url: ftp://user:pw-in-url@files.example.com/
      - name: no-host
        url: http:user:pw-in-url@files.example.com
`,
	})
	cfg := mustLoad(t, filepath.Join(dir, "apiwatch.yml"))
	if got := cfg.Companies[0].Contacts.PagerDuty[1].RoutingKey.Value(); got != "tok-ABC123" {
		t.Fatalf("routing key from file = %q, want tok-ABC123", got)
	}
	for _, p := range printers {
		t.Run(p.name, func(t *testing.T) {
			out, err := p.print(cfg)
			if err != nil {
				t.Fatalf("printing: %v", err)
			}
			checkNoMarkers(t, p.name+" output", out)
		})
	}

	_, err := LoadFile(filepath.Join(dir, "bad.yml"))
	if err == nil {
		t.Fatal("LoadFile(bad.yml) succeeded")
	}
	checkNoMarkers(t, "error", err.Error())
	if n := strings.Count(err.Error(), "\n") + 1; n != 4 {
		t.Errorf("got %d problems, want 4:\n%v", n, err)
	}
}
