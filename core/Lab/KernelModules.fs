/// The kernel modules a lab machine loads, read from the kernel package's own `modules.dep` (written by
/// `depmod -b ROOT VERSION` for the unpacked package) and `modules.builtin`: the lab names only the features it
/// needs (roots such as `kvm-amd` or `9p`), and the dependency closure and load order always come from the
/// kernel it boots, never from a hand-kept list that a new kernel would silently outdate.
module SsiHv.Core.Lab.KernelModules

/// Module names treat '-' and '_' alike (`kvm-amd` is loaded as `kvm_amd`).
let canonicalName (name: string) = name.Replace('-', '_')

/// `kernel/arch/x86/kvm/kvm-amd.ko` (or `.ko.xz`, `.ko.zst`) -> `kvm_amd`.
let nameOfPath (path: string) =
    let file = path.Substring(path.LastIndexOf('/') + 1)
    let stem = match file.IndexOf(".ko") with | -1 -> file | at -> file.Substring(0, at)
    canonicalName stem

type ModuleIndex =
    { /// Module name -> its path relative to /lib/modules/VERSION and the paths of the modules it depends on.
      Modules: Map<string, string * string list>
      /// Names of the modules built into the kernel image: nothing to load.
      Builtin: Set<string> }

/// Parses `modules.dep` ("path: dependency-path ...", one module a line) and `modules.builtin` (one path a line).
/// An error names the line and what was expected.
let parse (modulesDep: string) (modulesBuiltin: string) : Result<ModuleIndex, string> =
    let lines (text: string) =
        text.Split('\n') |> Array.mapi (fun i line -> i + 1, line.TrimEnd('\r')) |> Array.filter (fun (_, l) -> l.Trim() <> "")
    let entries =
        lines modulesDep
        |> Array.map (fun (number, line) ->
            match line.IndexOf(':') with
            | colon when colon > 0 ->
                let path = line.Substring(0, colon).Trim()
                let deps = line.Substring(colon + 1).Split([| ' '; '\t' |], System.StringSplitOptions.RemoveEmptyEntries) |> List.ofArray
                Ok(nameOfPath path, (path, deps))
            | _ -> Error("modules.dep: line " + string number + ": expected 'PATH: DEPENDENCY-PATH ...', found '" + line + "'"))
    match entries |> Array.tryPick (function Error e -> Some e | Ok _ -> None) with
    | Some problem -> Error problem
    | None ->
        let modules = entries |> Array.choose (function Ok entry -> Some entry | Error _ -> None) |> Map.ofArray
        let builtin = lines modulesBuiltin |> Array.map (snd >> fun l -> nameOfPath (l.Trim())) |> Set.ofArray
        Ok { Modules = modules; Builtin = builtin }

/// The paths to load, in an order where every module comes after all it depends on, covering `roots` and their
/// whole dependency closure, each once. A root built into the kernel needs nothing; a root the kernel has neither
/// as module nor built in is an error naming it.
let loadOrder (index: ModuleIndex) (roots: string list) : Result<string list, string> =
    let pathsByPath = index.Modules |> Map.toSeq |> Seq.map (fun (_, (path, deps)) -> path, deps) |> Map.ofSeq
    // Depth-first, dependencies before dependants; `seen` guards against cycles in a corrupt modules.dep.
    let rec visit (path: string) (seen: Set<string>, order: string list) =
        if seen.Contains path then
            (seen, order)
        else
            let deps = pathsByPath |> Map.tryFind path |> Option.defaultValue []
            let seen', order' = List.foldBack visit deps (seen.Add path, order)
            (seen', path :: order')
    let missing = roots |> List.filter (fun r -> let n = canonicalName r in not (index.Modules.ContainsKey n || index.Builtin.Contains n))
    match missing with
    | [] ->
        let rootPaths = roots |> List.choose (fun r -> index.Modules |> Map.tryFind (canonicalName r) |> Option.map fst)
        let _, reversed = List.fold (fun state path -> visit path state) (Set.empty, []) rootPaths
        Ok(List.rev reversed)
    | names ->
        let listed = String.concat ", " names
        Error("the kernel has no module " + listed + " (neither in modules.dep nor in modules.builtin)")
