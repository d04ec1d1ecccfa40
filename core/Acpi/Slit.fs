/// System Locality Information Table, revision 1 (ACPI 6.5 §5.2.17): N, then the N×N distance bytes row by row.
module SsiHv.Core.Acpi.Slit

open System
open SsiHv.Core.Acpi.Binary
open SsiHv.Core.Topology

type Slit = { Header: Header.Header; Distances: byte list list }

let signature = "SLIT"

let serialize (t: Slit) =
    let n = List.length t.Distances
    Header.serialize t.Header (Array.append (u64 (uint64 n)) (t.Distances |> List.concat |> Array.ofList))

let parse (bytes: byte[]) : Result<Slit, AcpiError> =
    result {
        let! header, _ = Header.parse signature bytes
        let! count = readU64 signature bytes Header.size
        let available = uint64 (bytes.Length - Header.size - 8)
        if count * count <> available || count > 0xFFFFUL then
            return! fail signature Header.size (String.Format("{0} localities need {1} bytes of matrix, the table has {2}", count, (count * count), available))
        else
            let n = int count
            let start = Header.size + 8
            return { Header = header; Distances = [ for i in 0 .. n - 1 -> [ for j in 0 .. n - 1 -> bytes.[start + i * n + j] ] ] }
    }

let ofTopology (t: Topology) =
    { Header = Header.ours signature 1uy; Distances = t.Distances |> List.map (List.map byte) }
