/// Which files a node host reads as input (a topology, a node config, a guest kernel or initrd), and how much of
/// them. A path may name anything: a device that never ends (`/dev/zero`), a FIFO that blocks a thread until a
/// writer comes, a directory; a file may be far larger than what it claims to be. Only a regular file within its
/// kind's limit is read, so a bad path costs one refusal, never the node host's memory or a thread.
module SsiHv.Core.Input.InputFile

open System

type FileKind =
    | Regular
    | Directory
    | Fifo
    | CharacterDevice
    | BlockDevice
    | Socket
    /// A type this list does not know.
    | Other

/// What the file is read as, with the most bytes each may have.
type InputKind =
    | Document
    | Kernel
    | Initrd

module InputKind =
    let limitBytes (kind: InputKind) : int64 =
        match kind with
        // Topologies and node configs of thousands of nodes are well under a megabyte.
        | Document -> 1L <<< 20
        // Linux bzImages are tens of MiB; uncompressed ELF kernels with debug information a few hundred.
        | Kernel -> 512L <<< 20
        // The most a .NET array holds, about 2 GiB, is more than any guest here boots from.
        | Initrd -> 1L <<< 30

    let name (kind: InputKind) =
        match kind with
        | Document -> "a document"
        | Kernel -> "a kernel"
        | Initrd -> "an initrd"

type InputFileError =
    | NotARegularFile of FileKind
    | TooLarge of sizeBytes: int64 * InputKind

module InputFileError =
    let private article (kind: FileKind) =
        match kind with
        | Regular -> "a regular file"
        | Directory -> "a directory"
        | Fifo -> "a FIFO"
        | CharacterDevice -> "a character device"
        | BlockDevice -> "a block device"
        | Socket -> "a socket"
        | Other -> "something other than a file"

    let text (error: InputFileError) =
        match error with
        | NotARegularFile kind -> String.Format("is {0}, not a regular file", (article kind))
        | TooLarge(size, kind) ->
            String.Format("is larger than the {0} MiB {1} may have ({2} bytes or more)", (InputKind.limitBytes kind >>> 20), (InputKind.name kind), size)

/// May the file be read as `kind`, given what the open file is and its size.
let admit (kind: InputKind) (fileKind: FileKind) (sizeBytes: int64) : Result<unit, InputFileError> =
    match fileKind with
    | Regular when sizeBytes > InputKind.limitBytes kind -> Error(TooLarge(sizeBytes, kind))
    | Regular -> Ok()
    | other -> Error(NotARegularFile other)
