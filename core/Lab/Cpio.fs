/// The "newc" cpio archive (the format the kernel unpacks an initramfs from; Documentation/driver-api/
/// early-userspace/buffer-format.rst): per entry a 110-byte ASCII header of 13 eight-digit hex fields, the
/// NUL-terminated name and the data, each padded to 4 bytes; a "TRAILER!!!" entry ends it. Written here rather
/// than with cpio(1) so that the lab image is built from values (module list, init script) without a staging tree.
module SsiHv.Core.Lab.Cpio

type Entry =
    | Directory of path: string * mode: int
    | File of path: string * mode: int * contents: byte[]
    | Symlink of path: string * target: string
    | CharDevice of path: string * mode: int * major: int * minor: int

let private fileType = function
    | Directory _ -> 0o040000
    | File _ -> 0o100000
    | Symlink _ -> 0o120000
    | CharDevice _ -> 0o020000

let pathOf = function
    | Directory(p, _) | File(p, _, _) | Symlink(p, _) | CharDevice(p, _, _, _) -> p

let private permissions = function
    | Directory(_, m) | File(_, m, _) | CharDevice(_, m, _, _) -> m &&& 0o7777
    | Symlink _ -> 0o777

let private data = function
    | File(_, _, bytes) -> bytes
    | Symlink(_, target) -> System.Text.Encoding.UTF8.GetBytes target
    | Directory _ | CharDevice _ -> [||]

let private device = function
    | CharDevice(_, _, major, minor) -> major, minor
    | _ -> 0, 0

let private padTo4 (stream: System.IO.MemoryStream) =
    while stream.Length % 4L <> 0L do stream.WriteByte 0uy

let private writeEntry (stream: System.IO.MemoryStream) (inode: int) (mode: int) (rdev: int * int) (name: string) (contents: byte[]) =
    let nameBytes = System.Text.Encoding.UTF8.GetBytes name
    let fields =
        [ inode; mode; 0; 0; (if mode &&& 0o170000 = 0o040000 then 2 else 1); 0; contents.Length
          0; 0; fst rdev; snd rdev; nameBytes.Length + 1; 0 ]
    let header = "070701" + (fields |> List.map (fun field -> field.ToString("X8")) |> String.concat "")
    let headerBytes = System.Text.Encoding.ASCII.GetBytes header
    stream.Write(headerBytes, 0, headerBytes.Length)
    stream.Write(nameBytes, 0, nameBytes.Length)
    stream.WriteByte 0uy
    padTo4 stream
    stream.Write(contents, 0, contents.Length)
    padTo4 stream

/// The archive of `entries` in the order given (a directory must come before what it holds). Names are stored
/// without a leading '/', as cpio(1) stores them for `find .`; every entry gets its own inode number so that the
/// kernel never links two files together.
let archive (entries: Entry list) : byte[] =
    use stream = new System.IO.MemoryStream()
    entries
    |> List.iteri (fun i entry ->
        writeEntry stream (i + 1) (fileType entry ||| permissions entry) (device entry) ((pathOf entry).TrimStart('/')) (data entry))
    writeEntry stream 0 0 (0, 0) "TRAILER!!!" [||]
    stream.ToArray()
