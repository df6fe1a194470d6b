// Command pier-testcluster is Pier's test ground: one binary holding the real
// kube-apiserver, kube-controller-manager and kubectl from the official
// k8s.io/kubernetes module, plus an embedded etcd and an "up" command that
// wires them together on loopback.
//
// The component is chosen by the first argument, or by the name the binary
// was invoked under (so a symlink named "kubectl" behaves as kubectl):
//
//	pier-testcluster up --dir DIR        start etcd, apiserver and controller-manager
//	pier-testcluster kube-apiserver ...  the real kube-apiserver
//	pier-testcluster kube-controller-manager ...
//	pier-testcluster kubectl ...         the real kubectl
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/component-base/cli"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	name := filepath.Base(os.Args[0])
	args := os.Args[1:]
	if name == "pier-testcluster" {
		if len(args) == 0 {
			fmt.Fprintln(os.Stderr, "usage: pier-testcluster up|kube-apiserver|kube-controller-manager|kubectl [args]")
			os.Exit(2)
		}
		name, args = args[0], args[1:]
	}
	// The Kubernetes commands parse os.Args themselves; drop the dispatcher word.
	os.Args = append([]string{name}, args...)
	switch name {
	case "up":
		os.Exit(runUp(args))
	case "kube-apiserver":
		os.Exit(cli.Run(apiserver.NewAPIServerCommand()))
	case "kube-controller-manager":
		os.Exit(cli.Run(controllermanager.NewControllerManagerCommand()))
	case "kubectl":
		os.Exit(cli.Run(kubectlcmd.NewDefaultKubectlCommand()))
	default:
		fmt.Fprintf(os.Stderr, "pier-testcluster: unknown component %q\n", name)
		os.Exit(2)
	}
}
