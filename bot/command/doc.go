// Package command turns verified chat commands and button clicks into
// answers: the command table (parsing against each command's spec, dry
// runs and executions within their deadlines), the router (channel check,
// role, audit row before anything runs, answer), and the buttons that stand
// for commands.
//
// It hands destructive commands to an ActionRequester (the approvals) and
// never runs them itself; the commands' handlers live in package commands.
package command
