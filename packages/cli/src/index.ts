// skillgate — the command line: component entrypoints and the responder's commands.
export {};
