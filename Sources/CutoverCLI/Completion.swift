/// Shell completion scripts, written from `Commands`: the commands, the subcommands of a
/// group, each command's own options (and `--db` where it uses the log), fixed option values,
/// and workflow and runbook names from workflows/ and runbooks/.
enum Completion {
    static var bash: String {
        var out = """
            # cutover completion for bash: source <(cutover completion bash)
            _cutover_names() { local f; for f in "$1"/*.json; do [ -e "$f" ] && basename "$f" .json; done; }
            _cutover() {
              local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" i=1
              # A --db PATH before the command.
              if [ "${COMP_WORDS[1]}" = "--db" ]; then i=3; fi
              if [ "$COMP_CWORD" -eq "$i" ]; then
                COMPREPLY=($(compgen -W "\(Commands.names.joined(separator: " ")) --help --version" -- "$cur")); return
              fi
              local key="${COMP_WORDS[i]}"
              case "$key" in

            """
        for group in Commands.names where !Commands.subcommands(of: group).isEmpty {
            out += """
                    \(group))
                      if [ "$COMP_CWORD" -eq $((i+1)) ]; then COMPREPLY=($(compgen -W "\(Commands.subcommands(of: group).joined(separator: " "))" -- "$cur")); return; fi
                      key="$key ${COMP_WORDS[i+1]}";;

                """
        }
        out += """
              esac
              case "$key|$prev" in

            """
        for c in Commands.all {
            for o in c.options {
                guard case .value = o.kind else { continue }
                let action: String
                if !o.choices.isEmpty {
                    action = "COMPREPLY=($(compgen -W \"\(o.choices.joined(separator: " "))\" -- \"$cur\"))"
                } else {
                    switch o.completes {
                    case .workflow: action = "COMPREPLY=($(compgen -W \"$(_cutover_names workflows)\" -- \"$cur\"))"
                    case .runbook: action = "COMPREPLY=($(compgen -W \"$(_cutover_names runbooks)\" -- \"$cur\"))"
                    case .file: action = "COMPREPLY=($(compgen -f -- \"$cur\"))"
                    case .none: action = "COMPREPLY=()"
                    }
                }
                out += "    \"\(c.name)|\(o.name)\") \(action); return;;\n"
            }
            if c.usesDatabase { out += "    \"\(c.name)|--db\") COMPREPLY=($(compgen -f -- \"$cur\")); return;;\n" }
        }
        out += """
              esac
              if [[ "$cur" == -* ]]; then
                case "$key" in

            """
        for c in Commands.all {
            let names = c.options.map(\.name) + (c.usesDatabase ? ["--db"] : []) + ["--help"]
            out += "      \"\(c.name)\") COMPREPLY=($(compgen -W \"\(names.joined(separator: " "))\" -- \"$cur\"));;\n"
        }
        out += """
                esac
                return
              fi
              case "$key" in

            """
        for c in Commands.all where c.operandCompletion != .none {
            let action = switch c.operandCompletion {
            case .workflow: "COMPREPLY=($(compgen -W \"$(_cutover_names workflows)\" -- \"$cur\"))"
            case .runbook: "COMPREPLY=($(compgen -W \"$(_cutover_names runbooks)\" -- \"$cur\"))"
            default: "COMPREPLY=($(compgen -f -- \"$cur\"))"
            }
            out += "    \"\(c.name)\") \(action);;\n"
        }
        out += """
                help) COMPREPLY=($(compgen -W "\(Commands.names.joined(separator: " ")) step-types workflow runbook references reference man" -- "$cur"));;
                completion) COMPREPLY=($(compgen -W "bash zsh" -- "$cur"));;
                schema) COMPREPLY=($(compgen -W "workflow runbook" -- "$cur"));;
              esac
            }
            complete -F _cutover cutover

            """
        return out
    }

    /// zsh runs the bash function through its bash-completion layer.
    static var zsh: String {
        "# cutover completion for zsh: source <(cutover completion zsh)\nautoload -U +X bashcompinit && bashcompinit\n" + bash
    }
}
