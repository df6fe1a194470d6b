package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// keyPair is a certificate with its private key, as issued by the test CA.
type keyPair struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// certOptions describes one certificate to issue.
type certOptions struct {
	commonName   string
	organization []string
	dnsNames     []string
	ips          []net.IP
	isCA         bool
	usages       []x509.ExtKeyUsage
}

func newSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// issue creates a certificate signed by parent (or self-signed when parent is nil).
func issue(opts certOptions, parent *keyPair) (*keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: opts.commonName, Organization: opts.organization},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           opts.usages,
		BasicConstraintsValid: true,
		IsCA:                  opts.isCA,
		DNSNames:              opts.dnsNames,
		IPAddresses:           opts.ips,
	}
	if opts.isCA {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	}
	signerCert, signerKey := tmpl, key
	if parent != nil {
		signerCert, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, &key.PublicKey, signerKey)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &keyPair{cert: cert, key: key}, nil
}

// write stores the pair as dir/name.crt and dir/name.key and returns both paths.
func (kp *keyPair) write(dir, name string) (certPath, keyPath string, err error) {
	certPath = filepath.Join(dir, name+".crt")
	keyPath = filepath.Join(dir, name+".key")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: kp.cert.Raw})
	if err = os.WriteFile(certPath, certPEM, 0o600); err != nil {
		return "", "", err
	}
	keyDER, err := x509.MarshalECPrivateKey(kp.key)
	if err != nil {
		return "", "", err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	return certPath, keyPath, os.WriteFile(keyPath, keyPEM, 0o600)
}

// pki holds every file the control plane needs.
type pki struct {
	caCert, caKey         string
	servingCert, servingK string
	adminCert, adminKey   string
	kcmCert, kcmKey       string
	saKey, saPub          string
}

// makePKI generates a fresh CA, the apiserver serving certificate, client
// certificates for the admin (system:masters) and the controller-manager, and
// the ServiceAccount token signing key.
func makePKI(dir string) (*pki, error) {
	p := &pki{}
	ca, err := issue(certOptions{commonName: "pier-test-ca", isCA: true}, nil)
	if err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	if p.caCert, p.caKey, err = ca.write(dir, "ca"); err != nil {
		return nil, err
	}
	serving, err := issue(certOptions{
		commonName: "kube-apiserver",
		dnsNames:   []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		ips:        []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
		usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca)
	if err != nil {
		return nil, fmt.Errorf("serving cert: %w", err)
	}
	if p.servingCert, p.servingK, err = serving.write(dir, "apiserver"); err != nil {
		return nil, err
	}
	clientUsage := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	admin, err := issue(certOptions{commonName: "pier-admin", organization: []string{"system:masters"}, usages: clientUsage}, ca)
	if err != nil {
		return nil, fmt.Errorf("admin cert: %w", err)
	}
	if p.adminCert, p.adminKey, err = admin.write(dir, "admin"); err != nil {
		return nil, err
	}
	kcm, err := issue(certOptions{commonName: "system:kube-controller-manager", usages: clientUsage}, ca)
	if err != nil {
		return nil, fmt.Errorf("controller-manager cert: %w", err)
	}
	if p.kcmCert, p.kcmKey, err = kcm.write(dir, "controller-manager"); err != nil {
		return nil, err
	}
	sa, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	saDER, err := x509.MarshalECPrivateKey(sa)
	if err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&sa.PublicKey)
	if err != nil {
		return nil, err
	}
	p.saKey = filepath.Join(dir, "sa.key")
	p.saPub = filepath.Join(dir, "sa.pub")
	if err := os.WriteFile(p.saKey, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: saDER}), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(p.saPub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o600); err != nil {
		return nil, err
	}
	return p, nil
}

// writeKubeconfig writes a kubeconfig that authenticates with a client certificate.
func writeKubeconfig(path, server, caFile, certFile, keyFile, user string) error {
	content := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: pier-test
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: %s
  user:
    client-certificate: %s
    client-key: %s
contexts:
- name: pier-test
  context:
    cluster: pier-test
    user: %s
current-context: pier-test
`, server, caFile, user, certFile, keyFile, user)
	return os.WriteFile(path, []byte(content), 0o600)
}
