/// Sizes as people write them on a command line: "512M", "2G", "65536" (bytes), binary multiples.
module SsiHv.Core.Units.ByteSize

open System

let private multipliers = [ 'K', 1UL <<< 10; 'M', 1UL <<< 20; 'G', 1UL <<< 30; 'T', 1UL <<< 40 ]

let parse (text: string) : Result<uint64, string> =
    let trimmed = text.Trim().ToUpperInvariant().TrimEnd('B').TrimEnd('I')
    let digits, multiplier =
        match multipliers |> List.tryFind (fun (suffix, _) -> trimmed.EndsWith suffix) with
        | Some(_, m) -> trimmed.Substring(0, trimmed.Length - 1), m
        | None -> trimmed, 1UL
    match System.UInt64.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture) with
    | true, value when value > 0UL && value <= System.UInt64.MaxValue / multiplier -> Ok(value * multiplier)
    | _ -> Error (String.Format("\"{0}\" is not a size: expected a positive whole number with an optional K, M, G or T suffix (binary multiples)", text))
