/**
 * The flow-matching Euler scheduler of FLUX.1, equal to diffusers'
 * {@code FlowMatchEulerDiscreteScheduler} as {@code FluxPipeline} drives it.
 *
 * <ul>
 *   <li>{@link io.github.flux4j.pipeline.scheduler.FlowMatchEulerSchedulerConfig}: the model's
 *       {@code scheduler/scheduler_config.json}.</li>
 *   <li>{@link io.github.flux4j.pipeline.scheduler.FlowMatchEulerScheduler}: resolution-dependent
 *       shift ({@code calculate_shift}) and {@code set_timesteps}, giving a
 *       {@link io.github.flux4j.pipeline.scheduler.Schedule}.</li>
 *   <li>{@link io.github.flux4j.pipeline.scheduler.Schedule}: the float32 sigmas and timesteps,
 *       bit-identical to diffusers', and the Euler {@code step} on LibTorch tensors.</li>
 * </ul>
 *
 * See {@code docs/scheduler.md}.
 */
@NullMarked
package io.github.flux4j.pipeline.scheduler;

import org.jspecify.annotations.NullMarked;
