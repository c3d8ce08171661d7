package config

import (
	"reflect"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzDecodeYAML feeds arbitrary files to the YAML decoder: it must never
// panic, Validate must never panic on what it accepts, and a valid result
// must survive encode → decode unchanged.
func FuzzDecodeYAML(f *testing.F) {
	for _, s := range []string{
		"",
		"listen:\n  ip: 127.0.0.1\n  port: 8080\n",
		"proxy:\n  backends: [http://127.0.0.1:3001, http://127.0.0.1:3002]\n  dial_timeout: 2s\n  trusted_proxies: [10.0.0.0/8]\n",
		"control:\n  token: s3cret\n  allow_remote: true\n  ping_interval: 25s\n",
		"presence: {grace: 30s, mailbox_bytes: 65536, mailbox_total_bytes: 67108864}\n",
		"message:\n  user_key: {query: to, header: X-Switchboard-To, cookie: user}\n  rate_per_second: 1.5\n",
		"tracker:\n  allowed_origins: ['*']\n  max_clients: 10\n",
		"admin: {addr: '127.0.0.1:0', disabled: true}\nshutdown: {drain_delay: 0s, timeout: 1m}\n",
		"listen:\n  prot: 80\n",
		"listen: [1, 2]\n",
		"&a [*a]",
		"proxy:\n  backends: !!str x\n",
		"listen: {port: 1}\n---\nlisten: {port: 2}\n",
		"message: {rate_per_second: .nan}\n",
		"log: {level: 0x10}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := Default()
		if err := DecodeYAML(data, &c); err != nil {
			return
		}
		c.ApplyDefaults()
		if c.Validate() != nil {
			return
		}
		out, err := yaml.Marshal(&c)
		if err != nil {
			t.Fatalf("marshal valid config: %v", err)
		}
		back := Default()
		if err := DecodeYAML(out, &back); err != nil {
			t.Fatalf("decode own output: %v\n%s", err, out)
		}
		back.ApplyDefaults()
		if !reflect.DeepEqual(normalize(c), normalize(back)) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", c, back)
		}
	})
}

// normalize maps empty lists to nil: YAML cannot tell them apart.
func normalize(c Config) Config {
	for _, p := range []*[]string{&c.Proxy.Backends, &c.Proxy.TrustedProxies, &c.Tracker.AllowedOrigins} {
		if len(*p) == 0 {
			*p = nil
		}
	}
	return c
}
