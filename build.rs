//! Compiles `src/proto/*.proto` with `protox` (a protobuf compiler written
//! in Rust), so building sluice needs no `protoc` on the machine.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "src/proto/change.proto",
        "src/proto/canal/canal_protocol.proto",
        "src/proto/canal/entry_protocol.proto",
    ];
    for proto in protos {
        println!("cargo:rerun-if-changed={proto}");
    }
    let descriptors = protox::compile(protos, ["src/proto"])?;
    prost_build::Config::new()
        // Rare and large: boxed, so every `Record` stays small.
        .boxed(".sluice.v1.Record.snapshot_chunk")
        .compile_fds(descriptors)?;
    Ok(())
}
