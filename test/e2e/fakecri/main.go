// Command fakecri serves the fake container runtime of
// k8s.io/cri-client/pkg/fake (runtime and image services, both conditions
// Ready) on a unix socket, so a real kubelet can register a Node and go
// Ready without containerd. It runs until SIGTERM or SIGINT.
//
// It is a module of its own so that the fake's gRPC dependencies stay out of
// kubebake's go.mod; the e2e tests build it with `go build`.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cri-client/pkg/fake"
)

func main() {
	endpoint := flag.String("endpoint", "", "where to listen, unix:///path/to.sock")
	flag.Parse()
	if *endpoint == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: fakecri -endpoint unix:///path/to.sock")
		os.Exit(2)
	}
	rt := fake.NewFakeRemoteRuntime()
	if err := rt.Start(*endpoint); err != nil {
		fmt.Fprintf(os.Stderr, "fakecri: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("fakecri: serving %s\n", *endpoint)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	rt.Stop()
}
