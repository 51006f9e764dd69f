package main

import (
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	for _, tt := range []struct {
		name string
		in   []time.Duration
		want stats
	}{
		{"odd", ms(900, 100, 500), stats{100 * time.Millisecond, 500 * time.Millisecond, 900 * time.Millisecond}},
		{"even: the mean of the middle two", ms(400, 100, 200, 900), stats{100 * time.Millisecond, 300 * time.Millisecond, 900 * time.Millisecond}},
		{"one", ms(700), stats{700 * time.Millisecond, 700 * time.Millisecond, 700 * time.Millisecond}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := summarize(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("got %+v %v, want %+v", got, err, tt.want)
			}
		})
	}
	if _, err := summarize(nil); err == nil {
		t.Error("no error for no sample")
	}
}
