// Command kubebake-join is kubebake's first-boot agent. See issue 3; this is a
// placeholder until the agent lands.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "kubebake-join: not implemented yet")
	os.Exit(2)
}
