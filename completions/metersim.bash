# bash completion for metersim (installed as
# share/bash-completion/completions/metersim).
#
# The options come from `metersim --help` itself, and the scenario names from
# `metersim --list-scenarios`, so this file never falls behind the program.

_metersim() {
    local cur prev words cword
    _init_completion || return

    case $prev in
    --scenario)
        local lib
        lib=$("$1" --list-scenarios 2>/dev/null)
        _filedir json
        COMPREPLY+=($(compgen -W "$lib" -- "$cur"))
        return
        ;;
    --junit | --state | --record | --replay | --record-to-scenario | --trace-vcd | \
        --trace-pcap | --trace-jsonl)
        _filedir
        return
        ;;
    --fidelity)
        COMPREPLY=($(compgen -W "sample auto" -- "$cur"))
        return
        ;;
    --speed)
        COMPREPLY=($(compgen -W "1 10 100 max" -- "$cur"))
        return
        ;;
    --modbus)
        COMPREPLY=($(compgen -W "pty pty: tcp: rtu-over-tcp:" -- "$cur"))
        compopt -o nospace
        return
        ;;
    --mbus)
        COMPREPLY=($(compgen -W "pty pty: tcp:" -- "$cur"))
        compopt -o nospace
        return
        ;;
    --until | --every | --save-interval | --tcp-idle | --gateway-timeout | --trace-from | \
        --trace-until)
        return
        ;;
    esac

    if [[ $cur == -* ]]; then
        local opts
        opts=$("$1" --help 2>/dev/null | grep -oE -- '(^|[[:space:]])--[a-z][a-z-]*' | tr -d ' ' | sort -u)
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi
    _filedir json
    COMPREPLY+=($(compgen -W "$("$1" --list-scenarios 2>/dev/null)" -- "$cur"))
}
complete -F _metersim metersim
