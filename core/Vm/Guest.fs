namespace SsiHv.Core.Vm

open System

/// What a VM boots: the built-in probe guest (docs/design.md §4.8), or a kernel file (a bzImage, or an ELF
/// with a PVH note) with an optional initial ramdisk. Paths are as given; reading them is the shell's.
type GuestImage =
    | Probe
    | Kernel of path: string * initrd: string option

/// A guest and its command line (`append`; empty when none was given).
type Guest = { Image: GuestImage; Append: string }

/// The guest's fields as an input gives them, each None when absent.
type GuestFields = { Guest: string option; Kernel: string option; Initrd: string option; Append: string option }

/// What naming neither a guest nor a kernel means.
[<RequireQualifiedAccess>]
type UnnamedGuest =
    /// `ssihv up`: the probe guest, which is the cluster's self-test.
    | MeansProbe
    /// `ssihv run` and POST /v1/vm: an error; they boot nothing by default.
    | IsMissing

/// Where the guest's fields came from: its messages spell each field the way that input does.
[<RequireQualifiedAccess>]
type GuestInput =
    /// The body of POST /v1/vm: "guest", "kernel", "initrd"; a kernel path is a file on the boot node.
    | HttpBody
    /// `ssihv run` and `ssihv up`: --guest, --kernel, --initrd.
    | CommandLine

type GuestError =
    | GuestAndKernel of guest: string * kernel: string
    | NoGuest
    | UnknownGuest of found: string
    | BlankKernel of found: string
    | InitrdWithoutKernel of initrd: string

module GuestError =
    let private blank (found: string) = if found = "" then "an empty string" else "only white space"

    let text (input: GuestInput) (error: GuestError) =
        match input, error with
        | GuestInput.HttpBody, GuestAndKernel(guest, kernel) ->
            "guest: give exactly one of \"guest\": \"probe\" and \"kernel\": \"FILE\" (a path on the boot node), found \"guest\": \"" + guest + "\" and \"kernel\": \"" + kernel + "\""
        | GuestInput.HttpBody, NoGuest ->
            "guest: give exactly one of \"guest\": \"probe\" and \"kernel\": \"FILE\" (a path on the boot node), found neither"
        | GuestInput.HttpBody, UnknownGuest found -> "guest: unknown guest \"" + found + "\"; expected \"probe\""
        | GuestInput.HttpBody, BlankKernel found -> "kernel: expected a file path on the boot node, found " + blank found
        | GuestInput.HttpBody, InitrdWithoutKernel _ -> "initrd: only with \"kernel\"; the probe guest takes none"
        | GuestInput.CommandLine, GuestAndKernel(guest, kernel) ->
            "--guest " + guest + " and --kernel " + kernel + ": give exactly one of --kernel FILE or --guest probe"
        | GuestInput.CommandLine, NoGuest -> "give exactly one of --kernel FILE or --guest probe, found neither"
        | GuestInput.CommandLine, UnknownGuest found -> "--guest " + found + ": unknown guest; expected 'probe'"
        | GuestInput.CommandLine, BlankKernel found -> "--kernel: expected a file path, found " + blank found
        | GuestInput.CommandLine, InitrdWithoutKernel initrd ->
            "--initrd " + initrd + ": only with --kernel; the probe guest takes none"

module Guest =
    /// The name the probe guest is chosen by, on every input.
    let probeName = "probe"

    /// The one reading of a guest choice, whichever input it comes from: exactly one of a built-in guest and a
    /// kernel file (or neither, where that means the probe), an initrd only with a kernel. The first broken rule
    /// is returned, in the order above.
    let parse (unnamed: UnnamedGuest) (fields: GuestFields) : Result<Guest, GuestError> =
        let append = defaultArg fields.Append ""
        match fields.Guest, fields.Kernel with
        | Some guest, Some kernel -> Error(GuestAndKernel(guest, kernel))
        | None, None when unnamed = UnnamedGuest.IsMissing -> Error NoGuest
        | Some guest, None when guest <> probeName -> Error(UnknownGuest guest)
        | None, Some kernel when String.IsNullOrWhiteSpace kernel -> Error(BlankKernel kernel)
        | None, Some kernel -> Ok { Image = Kernel(kernel, fields.Initrd); Append = append }
        | _, None ->
            match fields.Initrd with
            | Some initrd -> Error(InitrdWithoutKernel initrd)
            | None -> Ok { Image = Probe; Append = append }

    /// The fields that `parse` reads back as this guest: what a client sends for it.
    let fields (guest: Guest) : GuestFields =
        match guest.Image with
        | Probe -> { Guest = Some probeName; Kernel = None; Initrd = None; Append = Some guest.Append }
        | Kernel(path, initrd) -> { Guest = None; Kernel = Some path; Initrd = initrd; Append = Some guest.Append }
