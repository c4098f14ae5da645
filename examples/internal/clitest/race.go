//go:build race

package clitest

func init() { BuildFlags = []string{"-race"} }
