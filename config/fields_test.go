package config

import (
	"reflect"
	"testing"
)

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"status", "status", 0},
		{"statsu", "status", 1}, // a swap of neighbours counts once
		{"nmae", "name", 1},
		{"timout", "timeout", 1},
		{"expected", "expect", 2},
		{"", "url", 3},
		{"foo", "url", 3},
	}
	for _, tc := range tests {
		t.Run(tc.a+"/"+tc.b, func(t *testing.T) {
			if got := editDistance(tc.a, tc.b); got != tc.want {
				t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
			}
			if got := editDistance(tc.b, tc.a); got != tc.want {
				t.Errorf("editDistance(%q, %q) = %d, want %d", tc.b, tc.a, got, tc.want)
			}
		})
	}
}

func TestSuggestField(t *testing.T) {
	l := &loader{structs: map[reflect.Type]*structInfo{}}
	endpointInfo := l.structInfo(reflect.TypeFor[Endpoint]())
	tests := []struct {
		key, suggestion, field string
	}{
		{"nmae", `"name"`, "name"},
		{"uri", `"url"`, "url"},
		{"Interval", `"interval"`, "interval"},
		{"timezone", `"time_zone"`, "time_zone"},
		{"tz", `"time_zone"`, "time_zone"},
		{"cron", `"schedule"`, "schedule"},
		{"expect_status", `"status" under "expect"`, "expect"},
		{"expected.statsu", `"status" under "expect"`, "expect"},
		{"body_size_limits_bytes", `"body_size_limit"`, "body_size_limit"},
		// Short unrelated keys get no suggestion, not the nearest field.
		{"foo", "", ""},
		{"id", "", ""},
		{"payload", "", ""},
		{"header", `"headers"`, "headers"},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			suggestion, field := suggestField(tc.key, endpointInfo, l)
			if suggestion != tc.suggestion || field != tc.field {
				t.Errorf("suggestField(%q) = %s, %q, want %s, %q", tc.key, suggestion, field, tc.suggestion, tc.field)
			}
		})
	}
}
