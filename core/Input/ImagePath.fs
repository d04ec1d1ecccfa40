/// Which kernel and initrd paths a VM request over HTTP may name (docs/operations.md, "Limits"). The control API
/// reads the files a request names with the node host's rights, so anyone holding the API token could otherwise
/// have any file of the boot node read, and a bad one reported back. A path is read only when its canonical
/// form (every symlink and `..` resolved) lies inside the boot node's `imageDirectory`; without one, no path is
/// read at all. Resolving is the shell's (realpath); this module decides on the strings it is given.
module SsiHv.Core.Input.ImagePath

open System

/// How a path the request named resolved on the boot node.
type Resolution =
    /// The canonical path: absolute, no symlink, no `.` or `..`, no repeated or trailing `/`.
    | Resolved of canonicalPath: string
    /// realpath failed (a missing file or directory, a symlink loop, no permission); the reason is its error.
    | Unresolvable of reason: string

/// A request's path that is not read, and why. `field` is the body's field ("kernel" or "initrd").
type ImagePathRefusal =
    | NotAbsolute of field: string * path: string
    | ContainsNul of field: string
    | NoImageDirectory of field: string
    /// The boot node's own `imageDirectory` does not resolve.
    | DirectoryUnresolvable of directory: string * reason: string
    | OutsideImageDirectory of field: string * path: string * directory: string
    /// A path that would lie inside the directory but does not resolve, e.g. a file not there (yet).
    | UnresolvableInside of field: string * path: string * reason: string

/// The two answers a refusal gets: the request is malformed, or it is well-formed and not allowed.
[<RequireQualifiedAccess>]
type RefusalKind =
    | BadRequest
    | Forbidden

module ImagePathRefusal =
    let kind (refusal: ImagePathRefusal) =
        match refusal with
        | NotAbsolute _
        | ContainsNul _
        | UnresolvableInside _ -> RefusalKind.BadRequest
        | NoImageDirectory _
        | DirectoryUnresolvable _
        | OutsideImageDirectory _ -> RefusalKind.Forbidden

    /// The detail of the reply. It names paths and the rule, never anything read from a file.
    let text (refusal: ImagePathRefusal) =
        match refusal with
        | NotAbsolute(field, path) -> String.Format("{0}: expected an absolute path on the boot node (starting with /), found \"{1}\"", field, path)
        | ContainsNul field -> String.Format("{0}: expected a path without NUL characters", field)
        | NoImageDirectory field ->
            String.Format("{0}: this boot node reads no kernel or initrd named over HTTP; to allow it, set \"imageDirectory\" (an absolute directory) in the boot node's config file and restart it, then name files inside that directory", field)
        | DirectoryUnresolvable(directory, reason) ->
            String.Format("imageDirectory {0} of the boot node's config does not resolve ({1}); fix the config or create the directory", directory, reason)
        | OutsideImageDirectory(field, path, directory) ->
            String.Format("{0}: {1} is not inside the boot node's imageDirectory {2} (symlinks and .. resolved); put the file there", field, path, directory)
        | UnresolvableInside(field, path, reason) -> String.Format("{0}: {1}: {2}", field, path, reason)

/// `path` with `.`, `..` and repeated `/` removed by their spelling only (no symlinks); for an absolute path.
let lexicalForm (path: string) =
    let segments =
        path.Split('/', StringSplitOptions.RemoveEmptyEntries)
        |> Array.fold
            (fun kept segment ->
                match segment with
                | "." -> kept
                | ".." -> (match kept with [] -> [] | _ :: rest -> rest)
                | name -> name :: kept)
            []
    "/" + String.Join("/", List.rev segments)

/// Is `canonicalPath` strictly below `canonicalDirectory` (both canonical): the directory itself is no file.
let isInside (canonicalDirectory: string) (canonicalPath: string) =
    let prefix = if canonicalDirectory.EndsWith '/' then canonicalDirectory else canonicalDirectory + "/"
    canonicalPath.Length > prefix.Length && canonicalPath.StartsWith(prefix, StringComparison.Ordinal)

/// The checks before anything is resolved: the shell resolves nothing for a path refused here, so a request
/// without an image directory never makes the node host look at the file system.
let precheck (imageDirectory: string option) (field: string) (path: string) : Result<unit, ImagePathRefusal> =
    if path.Contains '\000' then Error(ContainsNul field)
    elif not (path.StartsWith '/') then Error(NotAbsolute(field, path))
    elif imageDirectory.IsNone then Error(NoImageDirectory field)
    else Ok()

/// The path to read (its canonical form), given how the configured directory and the path resolved. A path
/// that does not resolve is told why only when it would lie inside the directory, so a token holder cannot
/// learn which files exist elsewhere.
let admit (imageDirectory: string) (directory: Resolution) (field: string) (path: string) (resolved: Resolution)
    : Result<string, ImagePathRefusal> =
    match directory with
    | Unresolvable reason -> Error(DirectoryUnresolvable(imageDirectory, reason))
    | Resolved canonicalDirectory ->
        match resolved with
        | Resolved canonical when isInside canonicalDirectory canonical -> Ok canonical
        | Resolved _ -> Error(OutsideImageDirectory(field, path, imageDirectory))
        | Unresolvable reason ->
            let lexical = lexicalForm path
            if isInside canonicalDirectory lexical || isInside (lexicalForm imageDirectory) lexical then
                Error(UnresolvableInside(field, path, reason))
            else Error(OutsideImageDirectory(field, path, imageDirectory))
