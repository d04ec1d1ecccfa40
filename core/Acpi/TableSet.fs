/// The whole ACPI table set: building ours for a topology with every table at its guest-physical address,
/// and decoding + cross-checking any set of raw tables (ours, QEMU's, acpidump's) by their signatures.
module SsiHv.Core.Acpi.TableSet

open System
open SsiHv.Core.Acpi.Binary
open SsiHv.Core.Topology

/// One table as it will sit in guest memory.
type GeneratedTable = { Signature: string; Address: uint64; Bytes: byte[] }

/// The RSDP sits at the start of the BIOS read-only area, which Linux scans (0xE0000–0xFFFFF) when no boot
/// protocol hands it a pointer; the other tables follow it in the same area, below 1 MiB and outside RAM.
let rsdpAddress = 0xE0000UL
let areaEnd = 0x100000UL

let private alignUp (alignment: uint64) (value: uint64) = (value + alignment - 1UL) / alignment * alignment

/// Tables referenced from the XSDT (the DSDT is reached through the FADT, the FACS likewise).
let private xsdtTables = [ "FACP"; "APIC"; "SRAT"; "SLIT"; "HMAT" ]

let build (t: Topology) : Result<GeneratedTable list, string> =
    match Hmat.ofTopology t with
    | Error e -> Error (String.Format("HMAT: {0}", e))
    | Ok hmat ->
        let contents =
            [ "DSDT", Dsdt.serialize Dsdt.ours
              "APIC", Madt.serialize (Madt.ofTopology t)
              "SRAT", Srat.serialize (Srat.ofTopology t)
              "SLIT", Slit.serialize (Slit.ofTopology t)
              "HMAT", Hmat.serialize hmat ]
        let sizes =
            [ "RSDP", uint64 Rsdp.size; "XSDT", uint64 (Header.size + 8 * xsdtTables.Length)
              "FACP", uint64 Facp.size; "FACS", uint64 Facs.size ]
            @ (contents |> List.map (fun (s, b) -> s, uint64 b.Length))
        // FACS must be 64-byte aligned (§5.2.10); 16 bytes suffice for the rest and for the RSDP scan.
        let addresses =
            sizes
            |> List.fold (fun (next, acc) (signature, size) ->
                let at = alignUp (if signature = "FACS" then 64UL else 16UL) next
                at + size, Map.add signature at acc) (rsdpAddress, Map.empty)
        match addresses with
        | finish, _ when finish > areaEnd ->
            Error (String.Format("the ACPI tables need {0} bytes but the BIOS area holds {1}; use fewer CPUs or nodes", (finish - rsdpAddress), (areaEnd - rsdpAddress)))
        | _, at ->
            let xsdt = Xsdt.ofAddresses (xsdtTables |> List.map (fun s -> at.[s]))
            let bytes =
                [ "RSDP", Rsdp.serialize (Rsdp.ofXsdt at.["XSDT"])
                  "XSDT", Xsdt.serialize xsdt
                  "FACP", Facp.serialize (Facp.ours at.["FACS"] at.["DSDT"])
                  "FACS", Facs.serialize Facs.ours ]
                @ contents
            Ok(bytes |> List.map (fun (s, b) -> { Signature = s; Address = at.[s]; Bytes = b }))

/// Every table we can decode; a set from another tool may lack any of them.
type DecodedTables =
    { Rsdp: Rsdp.Rsdp option
      Xsdt: Xsdt.Xsdt option
      Facp: Facp.Fadt option
      Facs: Facs.Facs option
      Dsdt: Dsdt.Dsdt option
      Madt: Madt.Madt option
      Srat: Srat.Srat option
      Slit: Slit.Slit option
      Hmat: Hmat.Hmat option
      /// Files whose signature we do not decode (SSDTs, MCFG, ...): (file, signature). They are listed, not judged.
      Unrecognized: (string * string) list }

type DecodeResult = { Tables: DecodedTables; Errors: AcpiError list }

let private empty =
    { Rsdp = None; Xsdt = None; Facp = None; Facs = None; Dsdt = None; Madt = None; Srat = None; Slit = None
      Hmat = None; Unrecognized = [] }

/// The signature a table's bytes start with (RSDP's is 8 bytes, all others 4).
let signatureOf (bytes: byte[]) =
    if bytes.Length >= 8 && System.Text.Encoding.Latin1.GetString(bytes, 0, 8) = Rsdp.signature then Some "RSDP"
    elif bytes.Length >= 4 then Some(System.Text.Encoding.Latin1.GetString(bytes, 0, 4))
    else None

/// Decodes each (file name, bytes) by the signature inside it, not by its name. An error names the file.
let decode (files: (string * byte[]) list) : DecodeResult =
    let named (file: string) (e: AcpiError) = { e with Table = String.Format("{0} ({1})", e.Table, file) }
    let add (acc: DecodeResult) (file: string, bytes: byte[]) =
        let store parse (set: DecodedTables -> 'a option) (put: 'a -> DecodedTables) (signature: string) =
            match set acc.Tables with
            | Some _ -> { acc with Errors = acc.Errors @ [ { Table = file; Offset = 0; Message = String.Format("a second {0} table; a set holds one", signature) } ] }
            | None ->
                match parse bytes with
                | Ok v -> { acc with Tables = put v }
                | Error e -> { acc with Errors = acc.Errors @ [ named file e ] }
        let t = acc.Tables
        match signatureOf bytes with
        | None -> { acc with Errors = acc.Errors @ [ { Table = file; Offset = 0; Message = String.Format("{0} bytes cannot hold a table signature", bytes.Length) } ] }
        | Some "RSDP" -> store Rsdp.parse (fun t -> t.Rsdp) (fun v -> { t with Rsdp = Some v }) "RSDP"
        | Some "XSDT" -> store Xsdt.parse (fun t -> t.Xsdt) (fun v -> { t with Xsdt = Some v }) "XSDT"
        | Some "FACP" -> store Facp.parse (fun t -> t.Facp) (fun v -> { t with Facp = Some v }) "FACP"
        | Some "FACS" -> store Facs.parse (fun t -> t.Facs) (fun v -> { t with Facs = Some v }) "FACS"
        | Some "DSDT" -> store Dsdt.parse (fun t -> t.Dsdt) (fun v -> { t with Dsdt = Some v }) "DSDT"
        | Some "APIC" -> store Madt.parse (fun t -> t.Madt) (fun v -> { t with Madt = Some v }) "APIC"
        | Some "SRAT" -> store Srat.parse (fun t -> t.Srat) (fun v -> { t with Srat = Some v }) "SRAT"
        | Some "SLIT" -> store Slit.parse (fun t -> t.Slit) (fun v -> { t with Slit = Some v }) "SLIT"
        | Some "HMAT" -> store Hmat.parse (fun t -> t.Hmat) (fun v -> { t with Hmat = Some v }) "HMAT"
        | Some other -> { acc with Tables = { t with Unrecognized = t.Unrecognized @ [ file, other ] } }
    files |> List.fold add { Tables = empty; Errors = [] }
