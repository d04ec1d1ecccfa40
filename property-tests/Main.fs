module Main
[<EntryPoint>]
let main argv = 0
