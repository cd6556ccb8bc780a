package api

import "testing"

func TestIntegral(t *testing.T) {
	cases := map[string]bool{
		"3": true, "-3": true, "3.0": true, "3e0": true, "300e-2": true, "30E-1": true, "0.0": true, "0e-99999999999": true,
		"1e400": true, "1.5e1": true, "1.25e1": false, "3.5": false, "3.0000000000000000001": false, "35e-1": false,
		"1e-400": false, "1e-99999999999": false, "1e+99999999999": true, "0.001e3": true, "0.0015e3": false,
	}
	for s, want := range cases {
		if got := integral(s); got != want {
			t.Errorf("integral(%s) = %v, want %v", s, got, want)
		}
	}
}
