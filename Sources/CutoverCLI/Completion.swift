/// Shell completion scripts, written from `Commands`: the commands, the subcommands of a
/// group, each command's own options (and `--db`), fixed option values, workflow and runbook
/// names from workflows/ and runbooks/, files, step types and help topics.
///
/// The script works on bash's words up to the cursor, with `--opt=value` (which bash splits
/// at `=`) put back together, so `--db=PATH` and `--format=html` complete like `--db PATH`.
/// Candidates are added one per line, never split at spaces, so a name with a space stays one
/// name; files are marked as such (`compopt -o filenames`) for bash to quote them.
enum Completion {
    static func bash(stepTypes: [String]) -> String {
        var out = #"""
            # cutover completion for bash: source <(cutover completion bash)
            # Adds to COMPREPLY each of the words in $1 (one per line) that starts with $2.
            _cutover_add() {
              local w
              while IFS= read -r w; do [ -n "$w" ] && [[ "$w" == "$2"* ]] && COMPREPLY+=("$w"); done <<< "$1"
            }
            # The names of the .json files in folder $1 that start with $2; paths when $2 has a "/".
            _cutover_names() {
              if [[ "$2" == */* ]]; then _cutover_files "$2"; return 0; fi
              local f n
              for f in "$1"/*.json; do
                [ -e "$f" ] || continue
                n="${f##*/}"
                n="${n%.json}"
                [[ "$n" == "$2"* ]] && COMPREPLY+=("$n")
              done
              type compopt > /dev/null 2>&1 && compopt -o filenames 2> /dev/null
            }
            _cutover_files() {
              local f
              while IFS= read -r f; do [ -n "$f" ] && COMPREPLY+=("$f"); done < <(compgen -f -- "$1")
              type compopt > /dev/null 2>&1 && compopt -o filenames 2> /dev/null
            }
            _cutover() {
              COMPREPLY=()
              local words=() n=0 j w
              for ((j = 0; j <= COMP_CWORD; j++)); do
                w="${COMP_WORDS[j]}"
                if [ $n -gt 0 ] && [ "$w" = "=" ] && [[ "${words[n-1]}" == --* ]] && [[ "${words[n-1]}" != *=* ]]; then
                  words[n-1]="${words[n-1]}="
                elif [ $n -gt 0 ] && [ $j -gt 0 ] && [ "${COMP_WORDS[j-1]}" = "=" ] && [[ "${words[n-1]}" == --*= ]]; then
                  words[n-1]="${words[n-1]}$w"
                else
                  words[n]="$w"
                  n=$((n + 1))
                fi
              done
              # The word at the cursor as the command will see it: without the backslashes and
              # the opening quote the shell will remove.
              local cur="${words[n-1]}" last=$((n - 1))
              cur="${cur//\\/}"
              cur="${cur#[\"\']}"
              # The word bash replaces: all of `--opt=value` when it did not split at "=".
              local whole=0
              [[ "${COMP_WORDS[COMP_CWORD]}" == --*=* ]] && whole=1
              # A --db PATH before the command.
              local i=1
              case "${words[1]}" in --db) i=3 ;; --db=*) i=2 ;; esac
              if [ $last -lt $i ]; then
                if [ $last -eq 2 ]; then _cutover_files "$cur"; fi
                if [[ "$cur" == --db=* ]]; then _cutover_files "${cur#--db=}"; [ $whole -eq 1 ] && COMPREPLY=("${COMPREPLY[@]/#/--db=}"); fi
                return 0
              fi
              if [ $last -eq $i ]; then
                _cutover_add "$(printf '%s\n' \#(Commands.names.joined(separator: " ")) --help --version)" "$cur"
                return 0
              fi
              local key="${words[i]}" start=$((i + 1))
              case "$key" in

            """#
        for group in Commands.names where !Commands.subcommands(of: group).isEmpty {
            let takingValues = valueOptions(Commands.all.filter { $0.path.first == group })
            // The subcommand: the first word after the group that is no option or an option's value.
            out += """
                    \(group))
                      while [ $start -lt $last ]; do
                        case "${words[start]}" in
                          \(takingValues.joined(separator: "|"))) start=$((start + 2)) ;;
                          -*) start=$((start + 1)) ;;
                          *) break ;;
                        esac
                      done
                      if [ $start -ge $last ]; then
                        [[ "$cur" == -* ]] || _cutover_add "$(printf '%s\\n' \(Commands.subcommands(of: group).joined(separator: " ")))" "$cur"
                        return 0
                      fi
                      key="$key ${words[start]}"
                      start=$((start + 1)) ;;

                """
        }
        out += #"""
              esac
              # The value of an option: `--opt VALUE` or `--opt=VALUE`.
              local opt="" val="$cur"
              if [[ "$cur" == --*=* ]]; then
                opt="${cur%%=*}"
                val="${cur#*=}"
              elif [ $((last - 1)) -ge $start ]; then
                opt="${words[last-1]}"
              fi
              case "$key|$opt" in

            """#
        for c in Commands.all {
            for o in c.options {
                guard case .value = o.kind else { continue }
                out += "    \"\(c.name)|\(o.name)\") \(action(o.choices.isEmpty ? o.completes : nil, words: o.choices, value: "$val"));;\n"
            }
            out += "    \"\(c.name)|--db\") _cutover_files \"$val\";;\n"
        }
        out += #"""
                *) opt="" ;;
              esac
              if [ -n "$opt" ]; then
                [ $whole -eq 1 ] && [ ${#COMPREPLY[@]} -gt 0 ] && COMPREPLY=("${COMPREPLY[@]/#/$opt=}")
                return 0
              fi
              # The options a command takes, but those already given; the operands after them.
              local given=" " options="" values="" exclusive="" o k
              for ((k = start; k < last; k++)); do given="$given${words[k]} "; done
              case "$key" in

            """#
        for c in Commands.all {
            let names = c.options.map(\.name) + ["--db", "--help"]
            let exclusive = c.exclusive.flatMap(\.names)
            out += "    \"\(c.name)\") options=\"\(names.joined(separator: " "))\"; values=\" \(valueOptions([c]).joined(separator: " ")) \"; exclusive=\"\(exclusive.joined(separator: " "))\";;\n"
        }
        out += #"""
              esac
              if [[ "$cur" == -* ]]; then
                for o in $options; do
                  [[ "$given" == *" $o "* ]] || [[ "$given" == *" $o="* ]] && continue
                  # A switch of a group of which one is given already (--drill, --readiness-only).
                  [[ " $exclusive " == *" $o "* ]] && for w in $exclusive; do [[ "$given" == *" $w "* ]] && continue 2; done
                  _cutover_add "$o" "$cur"
                done
                return 0
              fi
              # Which operand the cursor is on: the words before it that are no option or value.
              local operands=()
              k=$start
              while [ $k -lt $last ]; do
                w="${words[k]}"
                if [[ "$w" == -* ]]; then
                  [[ "$w" != *=* ]] && [[ "$values" == *" $w "* ]] && k=$((k + 1))
                else
                  operands+=("$w")
                fi
                k=$((k + 1))
              done
              case "$key|${#operands[@]}" in

            """#
        for c in Commands.all where c.operandCompletion != .none || !c.operandChoices.isEmpty {
            out += "    \"\(c.name)|0\") \(action(c.operandChoices.isEmpty ? c.operandCompletion : nil, words: c.operandChoices, value: "$cur", stepTypes: stepTypes));;\n"
        }
        // `help schedule <TAB>`: the group's subcommands.
        out += "    \"help|1\")\n      case \"${operands[0]}\" in\n"
        for group in Commands.names where !Commands.subcommands(of: group).isEmpty {
            out += "        \(group)) _cutover_add \"$(printf '%s\\n' \(Commands.subcommands(of: group).joined(separator: " ")))\" \"$cur\";;\n"
        }
        out += "      esac;;\n"
        out += #"""
              esac
              return 0
            }
            complete -F _cutover cutover

            """#
        return out
    }

    /// The options of `commands` that take a value, `--db` among them.
    static func valueOptions(_ commands: [CommandSpec]) -> [String] {
        var names: [String] = ["--db"]
        for c in commands {
            for o in c.options {
                if case .value = o.kind, !names.contains(o.name) { names.append(o.name) }
            }
        }
        return names
    }

    /// The shell code that completes `value` with `words`, or as `completes` says.
    static func action(_ completes: Option.Completion?, words: [String], value: String, stepTypes: [String] = []) -> String {
        let list = { (w: [String]) in "_cutover_add \"$(printf '%s\\n' \(w.joined(separator: " ")))\" \"\(value)\"" }
        guard let completes else { return list(words) }
        switch completes {
        case .workflow: return "_cutover_names workflows \"\(value)\""
        case .runbook: return "_cutover_names runbooks \"\(value)\""
        case .file: return "_cutover_files \"\(value)\""
        case .stepType: return list(stepTypes)
        case .helpTopic: return list(Commands.names + HelpCommand.topics)
        case .none: return ":"
        }
    }

    /// zsh runs the bash function through its bash-completion layer.
    static func zsh(stepTypes: [String]) -> String {
        "# cutover completion for zsh: source <(cutover completion zsh)\nautoload -U +X bashcompinit && bashcompinit\n" + bash(stepTypes: stepTypes)
    }
}
