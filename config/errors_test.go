package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"all parts", &Error{File: "a.yml", Line: 3, Column: 7, Company: "acme", Endpoint: "api", Field: "expect.status", Msg: "bad"},
			`a.yml:3:7: company "acme": endpoint "api": expect.status: bad`},
		{"no column", &Error{File: "a.yml", Line: 3, Msg: "invalid YAML: x"}, "a.yml:3: invalid YAML: x"},
		{"no position", &Error{File: "a.yml", Msg: "reading file: permission denied"}, "a.yml: reading file: permission denied"},
		{"column without line", &Error{File: "a.yml", Column: 4, Msg: "m"}, "a.yml: m"},
		{"company only", &Error{File: "a.yml", Line: 1, Column: 1, Company: "acme", Field: "name", Msg: "m"},
			`a.yml:1:1: company "acme": name: m`},
		{"quoted names", &Error{File: "a.yml", Company: "Acme \"Corp\"", Endpoint: "a b", Msg: "m"},
			`a.yml: company "Acme \"Corp\"": endpoint "a b": m`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestErrorsOnePerLine(t *testing.T) {
	errs := Errors{
		{File: "a.yml", Line: 1, Column: 1, Msg: "first"},
		{File: "a.yml", Line: 2, Column: 1, Msg: "second"},
	}
	if got, want := errs.Error(), "a.yml:1:1: first\na.yml:2:1: second"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestErrorsAs checks that callers such as check-config reach the whole
// list and each problem through errors.As, also through wrapping.
func TestErrorsAs(t *testing.T) {
	_, err := LoadFile(filepath.Join("testdata", "invalid", "interval-no-unit.yml"))
	wrapped := fmt.Errorf("loading configuration: %w", err)

	var errs Errors
	if !errors.As(wrapped, &errs) {
		t.Fatalf("errors.As(%T, *Errors) = false", wrapped)
	}
	if len(errs) != 4 {
		t.Errorf("len(Errors) = %d, want 4", len(errs))
	}
	var first *Error
	if !errors.As(wrapped, &first) {
		t.Fatalf("errors.As(%T, **Error) = false", wrapped)
	}
	if first.Field != "global.timeout" || first.Line != 2 || first.Column != 12 {
		t.Errorf("first problem = %+v, want global.timeout at 2:12", first)
	}
}

// TestLoadRecoversPanic checks that a panic inside the loader, here from
// the environment lookup, becomes an error instead of ending the process.
func TestLoadRecoversPanic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apiwatch.yml")
	content := "companies:\n  - name: acme\n    endpoints:\n      - name: api\n        url: https://api.acme.example/?k=${KEY}\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, LoadOptions{LookupEnv: func(string) (string, bool) { panic("lookup failed") }})
	if cfg != nil {
		t.Errorf("Load returned a configuration after a panic")
	}
	if want := "loading " + path + ": internal error: lookup failed"; err == nil || err.Error() != want {
		t.Errorf("Load error = %v, want %q", err, want)
	}
}
