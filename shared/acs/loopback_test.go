package acs

import "testing"

func TestLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "127.9.9.9": true, "::1": true, "::ffff:127.0.0.1": true,
		"fe80::1%lo": false, "::1%lo": true,
		"ecs.cn-hangzhou.aliyuncs.com": false, "10.0.0.1": false, "": false, "localhost.example.com": false, "0.0.0.0": false,
	} {
		if Loopback(host) != want {
			t.Errorf("Loopback(%q) = %v", host, !want)
		}
	}
}

func TestLoopbackURL(t *testing.T) {
	for raw, want := range map[string]bool{
		"http://127.0.0.1:8080": true, "http://[::1]:9000/": true, "https://localhost": true,
		"https://ecs.cn-hangzhou.aliyuncs.com": false, "": false, "127.0.0.1:8080": false, "http://%zz": false,
	} {
		if LoopbackURL(raw) != want {
			t.Errorf("LoopbackURL(%q) = %v", raw, !want)
		}
	}
}
