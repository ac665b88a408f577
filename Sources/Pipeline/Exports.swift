// The pipeline's pure core is part of its API: whoever runs a `ReplicationPipeline` also reads its
// `PipelineError`s, `OutgoingRecord`s and snapshot signals, without importing a second module.
@_exported import SwallowCore
