/// A small subset of AML, the ACPI Machine Language (ACPI 6.5 §20.2): enough to write our DSDT and to read the
/// named data objects, scopes and devices of anyone's. AML opcodes do not say how long they are, so a term we do
/// not model can only be stepped over when its encoding bounds it anyway: by a PkgLength (Method, If, While,
/// Field, ...) or by a fixed layout of simple parts (Mutex; OperationRegion with constant or named arguments).
/// Such a term is kept as its own `Opaque` and decoding goes on after it, so a `Method` ahead of `\_S5` does not
/// hide `\_S5`. Any other term becomes an `Opaque` holding the rest of its term list raw, because its end (and so
/// where the next term starts) is unknown. The decoder never fails; the encoder never fails.
module SsiHv.Core.Acpi.Aml

open System
open SsiHv.Core.Acpi.Binary

/// Where a NameString starts looking (§20.2.2): the current scope, the root `\`, or `^` n levels up.
type NameAnchor =
    | Relative
    | Root
    | Parents of int

/// A NameString (§20.2.2). Segments are 4-character NameSegs (`path` pads shorter ones with '_').
type NameString = { Anchor: NameAnchor; Segments: string list }

/// A DataObject (§20.2.3). Integers are unsigned 64-bit (DSDT revision 2 and up).
type DataObject =
    | Integer of uint64
    | String of string
    | Buffer of byte[]
    | Package of DataObject list

/// A TermObj we understand (§20.2.5), or raw bytes we do not: one whole term we can bound, or the rest of a list.
/// `decode (encode terms) = terms` holds when the terms are what the decoder itself produces: NameSegs of
/// [A-Z0-9_] not starting with a digit, `Parents n` with n >= 1, strings of ASCII 0x01-0x7F, packages of at most
/// 255 elements, nesting at most `maxNesting` deep, and each `Opaque` either exactly one term that
/// `unmodelledTermEnd` bounds (anywhere in a list), or, only as the last term, non-empty bytes starting with
/// neither a term listed here nor one it bounds.
type Term =
    | Name of NameString * DataObject
    | Scope of NameString * Term list
    | Device of NameString * Term list
    | Opaque of byte[]

/// Deeper nesting than any real DSDT has; it bounds the decoder's recursion so hostile input cannot exhaust
/// the stack. Terms nested deeper are kept as `Opaque`.
let maxNesting = 64

// Opcodes and prefixes, ACPI 6.5 §20.2.
let private zeroOp = 0x00uy
let private oneOp = 0x01uy
let private nameOp = 0x08uy
let private bytePrefix = 0x0Auy
let private wordPrefix = 0x0Buy
let private dwordPrefix = 0x0Cuy
let private stringPrefix = 0x0Duy
let private qwordPrefix = 0x0Euy
let private scopeOp = 0x10uy
let private bufferOp = 0x11uy
let private packageOp = 0x12uy
let private varPackageOp = 0x13uy
let private methodOp = 0x14uy
let private dualNamePrefix = 0x2Euy
let private multiNamePrefix = 0x2Fuy
let private extOpPrefix = 0x5Buy
let private mutexOp = 0x01uy
let private opRegionOp = 0x80uy
let private deviceOp = 0x82uy
let private ifOp = 0xA0uy
let private elseOp = 0xA1uy
let private whileOp = 0xA2uy
let private onesOp = 0xFFuy
let private rootChar = byte '\\'
let private parentPrefixChar = byte '^'
let private nullName = 0x00uy

// ---------------------------------------------------------------------------------------------------- encoding

/// PkgLength (§20.2.4) counts its own bytes too. One byte holds up to 63; with n-1 follow bytes the lead byte
/// keeps only 4 bits, so n bytes hold up to 2^(4 + 8(n-1)) - 1.
let private pkgLength (contentLength: int) : byte[] =
    if contentLength + 1 <= 0x3F then [| byte (contentLength + 1) |]
    else
        let count = if contentLength + 2 <= 0xFFF then 2 elif contentLength + 3 <= 0xFFFFF then 3 else 4
        let total = contentLength + count
        Array.init count (fun i ->
            if i = 0 then byte ((count - 1) <<< 6) ||| byte (total &&& 0x0F) else byte (total >>> (4 + 8 * (i - 1))))

let private withPkgLength (content: byte[]) = Array.append (pkgLength content.Length) content

let private seg (s: string) = Array.init 4 (fun i -> if i < s.Length then byte s.[i] else byte '_')

let encodeNameString (n: NameString) : byte[] =
    let anchor =
        match n.Anchor with
        | Relative -> [||]
        | Root -> [| rootChar |]
        | Parents count -> Array.replicate count parentPrefixChar
    let path =
        match n.Segments with
        | [] -> [| nullName |]
        | [ one ] -> seg one
        | [ first; second ] -> Array.concat [ [| dualNamePrefix |]; seg first; seg second ]
        | many -> Array.concat ([| multiNamePrefix; byte many.Length |] :: List.map seg many)
    Array.append anchor path

/// The shortest encoding of an integer constant (§20.2.3).
let private encodeInteger (v: uint64) =
    if v = 0UL then [| zeroOp |]
    elif v = 1UL then [| oneOp |]
    elif v <= 0xFFUL then [| bytePrefix; byte v |]
    elif v <= 0xFFFFUL then Array.append [| wordPrefix |] (u16 (uint16 v))
    elif v <= 0xFFFFFFFFUL then Array.append [| dwordPrefix |] (u32 (uint32 v))
    else Array.append [| qwordPrefix |] (u64 v)

let rec encodeData (d: DataObject) : byte[] =
    match d with
    | Integer v -> encodeInteger v
    | String s -> Array.concat [ [| stringPrefix |]; Array.init s.Length (fun i -> byte s.[i]); [| 0uy |] ]
    | Buffer bytes -> Array.append [| bufferOp |] (withPkgLength (Array.append (encodeInteger (uint64 bytes.Length)) bytes))
    | Package items ->
        Array.append [| packageOp |] (withPkgLength (Array.concat ([| byte items.Length |] :: List.map encodeData items)))

let rec encodeTerm (t: Term) : byte[] =
    match t with
    | Name (name, data) -> Array.concat [ [| nameOp |]; encodeNameString name; encodeData data ]
    | Scope (name, terms) -> Array.append [| scopeOp |] (withPkgLength (Array.append (encodeNameString name) (encodeTerms terms)))
    | Device (name, terms) ->
        Array.append [| extOpPrefix; deviceOp |] (withPkgLength (Array.append (encodeNameString name) (encodeTerms terms)))
    | Opaque bytes -> bytes

and encodeTerms (terms: Term list) : byte[] = terms |> List.map encodeTerm |> Array.concat

// ---------------------------------------------------------------------------------------------------- decoding
// Every decoder takes the bytes, an offset and the end of the enclosing object (`limit`), and returns the value
// with the offset after it. Nothing is read at or past `limit`.

let private table = "AML"

let private byteAt (bytes: byte[]) offset limit =
    if offset < limit then readU8 table bytes offset else fail table offset "the enclosing object ends here"

let private bytesAt (bytes: byte[]) offset count limit =
    if count >= 0 && offset <= limit - count then readBytes table bytes offset count
    else fail table offset (String.Format("needs {0} bytes but the enclosing object ends at {1}", count, limit))

/// Returns the offset just past the package (its end) and the offset where its content starts.
let private decodePkgLength (bytes: byte[]) offset limit =
    result {
        let! lead = byteAt bytes offset limit
        let followCount = int (lead >>> 6)
        if followCount = 0 then
            let length = int (lead &&& 0x3Fuy)
            if length < 1 || offset + length > limit then
                return! fail table offset (String.Format("package length {0} does not fit in the {1} bytes left", length, (limit - offset)))
            else return offset + length, offset + 1
        elif lead &&& 0x30uy <> 0uy then
            return! fail table offset "a multi-byte package length must have bits 4 and 5 of its lead byte clear"
        else
            let! follow = bytesAt bytes (offset + 1) followCount limit
            let length = follow |> Array.mapi (fun i b -> int b <<< (4 + 8 * i)) |> Array.fold (|||) (int (lead &&& 0x0Fuy))
            if length < followCount + 1 || length > limit - offset then
                return! fail table offset (String.Format("package length {0} does not fit in the {1} bytes left", length, (limit - offset)))
            else return offset + length, offset + 1 + followCount
    }

let private isLeadNameChar (b: byte) = (b >= byte 'A' && b <= byte 'Z') || b = byte '_'
let private isNameChar (b: byte) = isLeadNameChar b || (b >= byte '0' && b <= byte '9')

let private decodeSeg (bytes: byte[]) offset limit =
    result {
        let! raw = bytesAt bytes offset 4 limit
        if isLeadNameChar raw.[0] && Array.forall isNameChar raw then return System.String(Array.map char raw), offset + 4
        else return! fail table offset "expected a NameSeg: 4 characters of A-Z, 0-9, _ not starting with a digit"
    }

let private decodeSegs (bytes: byte[]) offset count limit =
    let rec go offset remaining acc =
        if remaining = 0 then Ok(List.rev acc, offset)
        else
            match decodeSeg bytes offset limit with
            | Ok (s, next) -> go next (remaining - 1) (s :: acc)
            | Error e -> Error e
    go offset count []

let private decodeNameString (bytes: byte[]) offset limit =
    result {
        let! first = byteAt bytes offset limit
        let anchor, pathStart =
            if first = rootChar then Root, offset + 1
            elif first = parentPrefixChar then
                let rec pastCarets i = if i < limit && bytes.[i] = parentPrefixChar then pastCarets (i + 1) else i
                let pathStart = pastCarets offset
                Parents(pathStart - offset), pathStart
            else Relative, offset
        let! kind = byteAt bytes pathStart limit
        let! segments, next =
            if kind = nullName then Ok([], pathStart + 1)
            elif kind = dualNamePrefix then decodeSegs bytes (pathStart + 1) 2 limit
            elif kind = multiNamePrefix then
                byteAt bytes (pathStart + 1) limit |> Result.bind (fun count -> decodeSegs bytes (pathStart + 2) (int count) limit)
            else decodeSegs bytes pathStart 1 limit
        return { Anchor = anchor; Segments = segments }, next
    }

let private decodeFixedInteger (bytes: byte[]) offset width limit =
    bytesAt bytes offset width limit
    |> Result.map (fun raw -> (raw |> Array.rev |> Array.fold (fun acc b -> (acc <<< 8) ||| uint64 b) 0UL), offset + width)

let rec private decodeData (bytes: byte[]) offset limit depth : Result<DataObject * int, AcpiError> =
    result {
        let! op = byteAt bytes offset limit
        if depth > maxNesting then return! fail table offset (String.Format("data nested deeper than {0} levels", maxNesting))
        elif op = zeroOp then return Integer 0UL, offset + 1
        elif op = oneOp then return Integer 1UL, offset + 1
        elif op = bytePrefix || op = wordPrefix || op = dwordPrefix || op = qwordPrefix then
            let width = if op = bytePrefix then 1 elif op = wordPrefix then 2 elif op = dwordPrefix then 4 else 8
            let! value, next = decodeFixedInteger bytes (offset + 1) width limit
            return Integer value, next
        elif op = stringPrefix then
            let terminator = System.Array.IndexOf(bytes, 0uy, offset + 1, limit - offset - 1)
            if terminator < 0 then return! fail table offset "string has no terminating null before the enclosing object ends"
            else
                let chars = Array.sub bytes (offset + 1) (terminator - offset - 1)
                if Array.exists (fun b -> b > 0x7Fuy) chars then return! fail table offset "string has a character above 0x7F"
                else return String(System.String(Array.map char chars)), terminator + 1
        elif op = bufferOp then
            let! finish, contentStart = decodePkgLength bytes (offset + 1) limit
            let! size, dataStart = decodeData bytes contentStart finish (depth + 1)
            match size with
            | Integer declared when declared = uint64 (finish - dataStart) -> return Buffer(Array.sub bytes dataStart (finish - dataStart)), finish
            | _ -> return! fail table contentStart "buffer size is not a constant equal to the number of initializer bytes"
        elif op = packageOp then
            let! finish, contentStart = decodePkgLength bytes (offset + 1) limit
            let! count = byteAt bytes contentStart finish
            let! items = decodeDataList bytes (contentStart + 1) finish (depth + 1)
            if List.length items <> int count then
                return! fail table contentStart (String.Format("package declares {0} elements but holds {1}", count, (List.length items)))
            else return Package items, finish
        else return! fail table offset (String.Format("opcode 0x{0:X2} is not a data object this decoder knows", op))
    }

and private decodeDataList bytes offset limit depth =
    let rec go offset acc =
        if offset >= limit then Ok(List.rev acc)
        else
            match decodeData bytes offset limit depth with
            | Ok (item, next) -> go next (item :: acc)
            | Error e -> Error e
    go offset []

// Opcodes whose encoding continues with a PkgLength covering the whole object (§20.2.5): Method, If, Else,
// While; Buffer, Package and VarPackage where a term is expected (a Name's object is decoded as data); and
// Scope, which is modelled but still bounded here when its name cannot be read.
let private pkgLengthOps = [ scopeOp; methodOp; ifOp; elseOp; whileOp; bufferOp; packageOp; varPackageOp ]

// The same after ExtOpPrefix 0x5B: Field, IndexField, BankField, Processor, PowerResource, ThermalZone; and
// Device, which is modelled but still bounded here when its name cannot be read.
let private pkgLengthExtOps = [ 0x81uy; 0x86uy; 0x87uy; 0x83uy; 0x84uy; 0x85uy; deviceOp ]

let private startsNameString (b: byte) =
    isLeadNameChar b || b = rootChar || b = parentPrefixChar || b = dualNamePrefix || b = multiNamePrefix

/// The end of a TermArg that is an integer constant or a name. Expressions are not modelled, so their end is
/// unknown. A name is taken to be an object, not a method call with arguments after it; firmware passes
/// OperationRegion constants or named integers, and a misjudged end would only split raw bytes differently.
let private simpleTermArgEnd (bytes: byte[]) offset limit =
    result {
        let! op = byteAt bytes offset limit
        if op = zeroOp || op = oneOp || op = onesOp then return offset + 1
        elif op = bytePrefix then return! bytesAt bytes (offset + 1) 1 limit |> Result.map (fun _ -> offset + 2)
        elif op = wordPrefix then return! bytesAt bytes (offset + 1) 2 limit |> Result.map (fun _ -> offset + 3)
        elif op = dwordPrefix then return! bytesAt bytes (offset + 1) 4 limit |> Result.map (fun _ -> offset + 5)
        elif op = qwordPrefix then return! bytesAt bytes (offset + 1) 8 limit |> Result.map (fun _ -> offset + 9)
        elif startsNameString op then return! decodeNameString bytes offset limit |> Result.map snd
        else return! fail table offset (String.Format("opcode 0x{0:X2} starts an expression, whose end this decoder cannot find", op))
    }

/// Where a term that `decodeTerm` does not model ends, when its encoding bounds it without modelling it: a
/// PkgLength right after the opcode, Mutex's NameString and SyncFlags byte, or OperationRegion's NameString,
/// RegionSpace byte and two simple TermArgs.
let private unmodelledTermEnd (bytes: byte[]) offset limit : Result<int, AcpiError> =
    result {
        let! op = byteAt bytes offset limit
        if List.contains op pkgLengthOps then return! decodePkgLength bytes (offset + 1) limit |> Result.map fst
        elif op = extOpPrefix then
            let! extended = byteAt bytes (offset + 1) limit
            if List.contains extended pkgLengthExtOps then return! decodePkgLength bytes (offset + 2) limit |> Result.map fst
            elif extended = mutexOp then
                let! _, syncFlagsAt = decodeNameString bytes (offset + 2) limit
                return! byteAt bytes syncFlagsAt limit |> Result.map (fun _ -> syncFlagsAt + 1)
            elif extended = opRegionOp then
                let! _, regionSpaceAt = decodeNameString bytes (offset + 2) limit
                let! _ = byteAt bytes regionSpaceAt limit
                let! lengthAt = simpleTermArgEnd bytes (regionSpaceAt + 1) limit
                return! simpleTermArgEnd bytes lengthAt limit
            else return! fail table offset (String.Format("extended opcode 0x5B 0x{0:X2} has no length this decoder can find", extended))
        else return! fail table offset (String.Format("opcode 0x{0:X2} has no length this decoder can find", op))
    }

let rec private decodeTerm (bytes: byte[]) offset limit depth : Result<Term * int, AcpiError> =
    result {
        let! op = byteAt bytes offset limit
        if depth > maxNesting then return! fail table offset (String.Format("terms nested deeper than {0} levels", maxNesting))
        elif op = nameOp then
            let! name, dataStart = decodeNameString bytes (offset + 1) limit
            let! data, next = decodeData bytes dataStart limit (depth + 1)
            return Name(name, data), next
        elif op = scopeOp then
            let! name, terms, finish = decodeNamedBlock bytes (offset + 1) limit depth
            return Scope(name, terms), finish
        elif op = extOpPrefix then
            let! extended = byteAt bytes (offset + 1) limit
            if extended = deviceOp then
                let! name, terms, finish = decodeNamedBlock bytes (offset + 2) limit depth
                return Device(name, terms), finish
            else return! fail table offset (String.Format("extended opcode 0x5B 0x{0:X2} is not a term this decoder knows", extended))
        else return! fail table offset (String.Format("opcode 0x{0:X2} is not a term this decoder knows", op))
    }

/// PkgLength NameString TermList, the shape of Scope and Device.
and private decodeNamedBlock bytes offset limit depth =
    result {
        let! finish, contentStart = decodePkgLength bytes offset limit
        let! name, termsStart = decodeNameString bytes contentStart finish
        return name, decodeTermList bytes termsStart finish (depth + 1), finish
    }

and private decodeTermList (bytes: byte[]) offset limit depth : Term list =
    let rec go offset acc =
        if offset >= limit then List.rev acc
        else
            match decodeTerm bytes offset limit depth with
            | Ok (term, next) -> go next (term :: acc)
            | Error _ ->
                match unmodelledTermEnd bytes offset limit with
                | Ok finish -> go finish (Opaque(Array.sub bytes offset (finish - offset)) :: acc)
                | Error _ -> List.rev (Opaque(Array.sub bytes offset (limit - offset)) :: acc)
    go offset []

/// Decodes a whole TermList (a DSDT or SSDT body). Never fails: what it cannot read ends as `Opaque`.
let decodeTerms (bytes: byte[]) : Term list = decodeTermList bytes 0 bytes.Length 0

// ---------------------------------------------------------------------------------------------------- helpers
// For writing AML literals in code, the way ASL would; not for user input.

/// "\\_SB.COM1", "^PCI0", "_S5": the anchor, then dot-separated NameSegs, each padded with '_' to 4 characters.
let path (text: string) : NameString =
    let rest = text.TrimStart('\\', '^')
    let anchor =
        if text.StartsWith "\\" then Root
        elif text.StartsWith "^" then Parents(text.Length - rest.Length)
        else Relative
    let padded (s: string) = s.PadRight(4, '_')
    { Anchor = anchor; Segments = if rest = "" then [] else rest.Split '.' |> Array.map padded |> List.ofArray }

/// ASL's EisaId("PNP0501") (§19.6.35): three letters of 5 bits each, then four hex digits, stored so that the
/// bytes read in memory order are the compressed ID.
let eisaId (id: string) : DataObject =
    let letter i = (uint32 id.[i] - 0x40u) &&& 0x1Fu
    let hex i = System.Convert.ToUInt32(string id.[i], 16)
    let byte0 = (letter 0 <<< 2) ||| (letter 1 >>> 3)
    let byte1 = ((letter 1 &&& 0x7u) <<< 5) ||| letter 2
    let byte2 = (hex 3 <<< 4) ||| hex 4
    let byte3 = (hex 5 <<< 4) ||| hex 6
    Integer(uint64 (byte0 ||| (byte1 <<< 8) ||| (byte2 <<< 16) ||| (byte3 <<< 24)))

/// Resource descriptors for ASL's ResourceTemplate (ACPI 6.5 §6.4).
module ResourceTemplate =
    /// I/O Port Descriptor (§6.4.2.5), small item 0x08, 7 bytes; the information byte's bit 0 set = Decode16.
    let io16 (minimum: uint16) (maximum: uint16) (alignment: byte) (length: byte) =
        Array.concat [ [| 0x47uy; 0x01uy |]; u16 minimum; u16 maximum; [| alignment; length |] ]

    /// IRQ Descriptor without the information byte (§6.4.2.1), small item 0x04, 2 bytes: edge, active-high,
    /// exclusive, one mask bit per ISA IRQ.
    let irqNoFlags (irqs: int list) =
        Array.append [| 0x22uy |] (u16 (irqs |> List.fold (fun mask irq -> mask ||| (1us <<< irq)) 0us))

    /// The Buffer holding `descriptors` followed by the End Tag (§6.4.2.9); a zero checksum means "valid".
    let ofDescriptors (descriptors: byte[] list) : DataObject =
        Buffer(Array.concat (descriptors @ [ [| 0x79uy; 0x00uy |] ]))
