namespace SsiHv.Core.Cluster

open System

/// An IPv4 address and a TCP port; port 0 lets the kernel pick a free one (tests, `ssihv up`).
type Endpoint =
    { Address: string
      Port: int }

    override this.ToString() = this.Address + ":" + string this.Port

module Endpoint =
    /// "a.b.c.d:port" with four decimal octets; no host names, because a name would need a resolver (I/O).
    let parse (text: string) : Result<Endpoint, string> =
        let expected = "expected IPv4:port such as 127.0.0.1:7101, found \"" + text + "\""
        match text.Split ':' with
        | [| host; port |] ->
            let octets = host.Split '.'
            let octetOk (o: string) =
                o.Length >= 1 && o.Length <= 3 && o |> Seq.forall Char.IsAsciiDigit && int o <= 255
            let portOk = port.Length >= 1 && port.Length <= 5 && port |> Seq.forall Char.IsAsciiDigit && int port <= 65535
            if octets.Length = 4 && Array.forall octetOk octets && portOk then
                Ok { Address = octets |> Array.map (int >> string) |> String.concat "."; Port = int port }
            else Error expected
        | _ -> Error expected
