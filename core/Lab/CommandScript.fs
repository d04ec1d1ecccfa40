/// The script a lab machine's /init runs: the user's command with the working directory and environment it was
/// given on the host. The host's / is the machine's / (read-only, with an overlay), so the same paths and the
/// same variables mean the same things inside.
module SsiHv.Core.Lab.CommandScript

/// POSIX sh single quoting: everything literal, a quote written as '\''.
let quote (word: string) = "'" + word.Replace("'", "'\\''") + "'"

let private isName (name: string) =
    name.Length > 0
    && (System.Char.IsAsciiLetter name.[0] || name.[0] = '_')
    && name |> Seq.forall (fun c -> System.Char.IsAsciiLetterOrDigit c || c = '_')

/// Variables that describe the host shell itself rather than what the command should see.
let private hostShellVariables = set [ "PWD"; "OLDPWD"; "SHLVL"; "_" ]

/// `environment` in any order; names a shell cannot export are left out (the shell could not pass them either).
let render (workingDirectory: string) (environment: (string * string) list) (command: string list) : Result<string, string> =
    match command with
    | [] -> Error "no command to run"
    | _ when command |> List.exists (fun w -> w.Contains '\000') -> Error "a command word contains a NUL byte"
    | _ ->
        let exports =
            environment
            |> List.filter (fun (name, value) -> isName name && not (hostShellVariables.Contains name) && not (value.Contains '\000'))
            |> List.sortBy fst
            |> List.map (fun (name, value) -> "export " + name + "=" + quote value)
        [ yield "#!/bin/sh"
          yield "cd " + quote workingDirectory + " || exit 126"
          yield! exports
          yield "exec " + (command |> List.map quote |> String.concat " ") ]
        |> List.map (fun line -> line + "\n")
        |> String.concat ""
        |> Ok
