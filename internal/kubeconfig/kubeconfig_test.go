package kubeconfig_test

import (
	"bytes"
	"testing"

	"github.com/kubebake/kubebake/internal/kubeconfig"
	"github.com/kubebake/kubebake/internal/token"
	"github.com/kubebake/kubebake/test/discoverytest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Every kubeconfig kubebake writes is byte for byte what clientcmd.Write
// writes for the same config, and clientcmd loads and validates it.
func TestAsClientcmdWrites(t *testing.T) {
	tok, _ := token.Generate()
	a := discoverytest.NewCA(t, discoverytest.ECDSA)
	b := discoverytest.NewCA(t, discoverytest.RSA)
	bundle := append(append([]byte{}, a.PEM...), b.PEM...)
	single := func(server string, u *clientcmdapi.AuthInfo) []byte {
		cfg := clientcmdapi.NewConfig()
		cl := clientcmdapi.NewCluster()
		cl.Server, cl.CertificateAuthorityData = server, bundle
		cfg.Clusters[kubeconfig.BootstrapClusterName] = cl
		cfg.AuthInfos[kubeconfig.BootstrapUserName] = u
		ctx := clientcmdapi.NewContext()
		ctx.Cluster, ctx.AuthInfo = kubeconfig.BootstrapClusterName, kubeconfig.BootstrapUserName
		cfg.Contexts[kubeconfig.BootstrapContextName] = ctx
		cfg.CurrentContext = kubeconfig.BootstrapContextName
		return write(t, *cfg)
	}
	for _, server := range []string{"https://10.0.0.10:6443", "https://[fd00::10]:6443", "https://lb.example.com"} {
		withToken := clientcmdapi.NewAuthInfo()
		withToken.Token = tok.Value()
		withFile := clientcmdapi.NewAuthInfo()
		withFile.TokenFile = "/etc/kubebake/token"
		clusterInfo := clientcmdapi.Config{Clusters: map[string]*clientcmdapi.Cluster{"": {Server: server, CertificateAuthorityData: bundle}}}
		for _, tc := range []struct {
			name string
			got  func() ([]byte, error)
			want []byte
		}{
			{"bootstrap token", func() ([]byte, error) {
				return kubeconfig.Bootstrap(server, bundle, kubeconfig.AuthInfo{Token: tok.Value()})
			}, single(server, withToken)},
			{"bootstrap token file", func() ([]byte, error) {
				return kubeconfig.Bootstrap(server, bundle, kubeconfig.AuthInfo{TokenFile: "/etc/kubebake/token"})
			}, single(server, withFile)},
			{"cluster-info", func() ([]byte, error) { return kubeconfig.ClusterInfo(server, bundle) }, write(t, clusterInfo)},
		} {
			got, err := tc.got()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("%s, server %s: ours\n%s\nclientcmd.Write's\n%s", tc.name, server, redact(got, tok), redact(tc.want, tok))
			}
			cfg, err := clientcmd.Load(got)
			if err != nil {
				t.Fatalf("%s: clientcmd cannot load it: %v", tc.name, err)
			}
			if tc.name == "cluster-info" {
				if cl := cfg.Clusters[""]; cl == nil || cl.Server != server || !bytes.Equal(cl.CertificateAuthorityData, bundle) {
					t.Errorf("cluster-info loaded as %+v", cfg.Clusters)
				}
				continue
			}
			if err := clientcmd.Validate(*cfg); err != nil {
				t.Errorf("%s: clientcmd.Validate: %v", tc.name, err)
			}
			ctx := cfg.Contexts[cfg.CurrentContext]
			u := cfg.AuthInfos[ctx.AuthInfo]
			if cl := cfg.Clusters[ctx.Cluster]; cl.Server != server || !bytes.Equal(cl.CertificateAuthorityData, bundle) || (u.Token != tok.Value() && u.TokenFile != "/etc/kubebake/token") {
				t.Errorf("%s: loaded %+v", tc.name, cl)
			}
		}
	}
}

// Parse reads what Marshal writes.
func TestParse(t *testing.T) {
	c := kubeconfig.Single("c", kubeconfig.Cluster{Server: "https://x", CAFile: "/ca.crt"}, "u", kubeconfig.AuthInfo{ClientCertificate: "/u.crt", ClientKey: "/u.key"})
	data, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := kubeconfig.Parse(data)
	if err != nil || got.Kind != "Config" || got.Clusters[0].Cluster.CAFile != "/ca.crt" || got.Users[0].AuthInfo.ClientKey != "/u.key" || got.CurrentContext != "u@c" {
		t.Errorf("Parse(Marshal) = %+v, %v", got, err)
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		t.Fatalf("clientcmd.Load: %v", err)
	}
	if cfg.AuthInfos["u"].ClientCertificate != "/u.crt" || cfg.Clusters["c"].CertificateAuthority != "/ca.crt" {
		t.Errorf("clientcmd loaded %+v %+v", cfg.AuthInfos["u"], cfg.Clusters["c"])
	}
}

func write(t *testing.T, cfg clientcmdapi.Config) []byte {
	t.Helper()
	out, err := clientcmd.Write(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func redact(b []byte, tok token.Token) string {
	return string(bytes.ReplaceAll(b, []byte(tok.Secret()), []byte("<secret>")))
}
