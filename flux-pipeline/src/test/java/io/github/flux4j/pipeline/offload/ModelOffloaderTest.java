package io.github.flux4j.pipeline.offload;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.flux4j.core.torch.DeviceMovable;
import io.github.flux4j.core.torch.FluxDevice;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The move order of model offloading, with models that only record their moves. */
class ModelOffloaderTest {
    /** Records "name->device(keep)" per move. */
    static final class Fake implements DeviceMovable {
        final String name;
        final List<String> log;
        FluxDevice device;

        Fake(String name, FluxDevice device, List<String> log) {
            this.name = name;
            this.device = device;
            this.log = log;
        }

        @Override
        public FluxDevice device() {
            return device;
        }

        @Override
        public void moveTo(FluxDevice target, boolean keepHostCopy) {
            log.add(name + "->" + target + (keepHostCopy ? " keep" : ""));
            device = target;
        }

        @Override
        public String toString() {
            return name;
        }
    }

    // The moves are the same on any device; "cuda:0" here is only a label.
    private static final FluxDevice GPU = FluxDevice.cuda(0);

    @Test
    void modelOffloadMovesOnlyTheRunningModelToTheDevice() {
        List<String> log = new ArrayList<>();
        ModelOffloader o = new ModelOffloader(GPU, true);
        Fake clip = new Fake("clip", FluxDevice.cpu(), log);
        Fake t5 = new Fake("t5", FluxDevice.cpu(), log);
        Fake transformer = new Fake("transformer", GPU, log); // loaded elsewhere: goes to the CPU at once
        Fake vae = new Fake("vae", FluxDevice.cpu(), log);
        o.register("clip", clip);
        o.register("t5", t5);
        o.register("transformer", transformer);
        o.register("vae", vae);
        assertThat(log).containsExactly("transformer->cpu keep");
        log.clear();

        o.use(clip);
        o.use(t5);
        o.use(transformer);
        o.use(transformer); // already there
        o.use(vae);
        o.offloadAll();
        o.offloadAll();
        assertThat(log)
                .containsExactly(
                        "clip->cuda:0 keep",
                        "clip->cpu keep",
                        "t5->cuda:0 keep",
                        "t5->cpu keep",
                        "transformer->cuda:0 keep",
                        "transformer->cpu keep",
                        "vae->cuda:0 keep",
                        "vae->cpu keep");
        assertThat(List.of(clip, t5, transformer, vae)).allMatch(m -> m.device().equals(FluxDevice.cpu()));
        assertThat(o.enabled()).isTrue();
        assertThat(o.device()).isEqualTo(GPU);
        assertThat(o.moveTime().isNegative()).isFalse();
    }

    @Test
    void withoutOffloadingModelsGoToTheDeviceOnceAndStay() {
        List<String> log = new ArrayList<>();
        ModelOffloader o = new ModelOffloader(GPU, false);
        Fake a = new Fake("a", FluxDevice.cpu(), log);
        Fake b = new Fake("b", GPU, log);
        o.register("a", a);
        o.register("b", b);
        o.use(a);
        o.use(b);
        o.offloadAll();
        assertThat(log).containsExactly("a->cuda:0");
        assertThat(a.device()).isEqualTo(GPU);
    }

    @Test
    void unknownAndDuplicateModelsAreRefused() {
        List<String> log = new ArrayList<>();
        ModelOffloader o = new ModelOffloader(FluxDevice.cpu(), true);
        Fake a = new Fake("a", FluxDevice.cpu(), log);
        o.register("a", a);
        assertThatThrownBy(() -> o.register("again", a))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("registered already");
        assertThatThrownBy(() -> o.use(new Fake("x", FluxDevice.cpu(), log)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not registered");
        o.use(a); // a CPU pipeline: every move is a no-op
        o.offloadAll();
        assertThat(log).isEmpty();
    }
}
