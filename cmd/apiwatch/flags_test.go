package main

import "testing"

func TestFlagValuesChecked(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"empty storage path", []string{"--storage.path=", "check-config"}, 2},
		{"negative concurrency", []string{"--probe.concurrency=-1", "check-config"}, 2},
		{"negative history", []string{"--history.size=-1", "check-config"}, 2},
		{"unknown flag", []string{"--no.such.flag", "check-config"}, 2},
		{"missing config file", []string{"--config.file=/nonexistent/apiwatch.yml", "check-config"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := run(tt.args); got != tt.want {
				t.Errorf("run(%q) = %d, want %d", tt.args, got, tt.want)
			}
		})
	}
}
