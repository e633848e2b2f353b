// Reference it for the `faultline` global: /// <reference types="@faultline/jest-environment/globals" />
import type { ConfigSource, FaultsHandle } from '@faultline/core'

declare global {
  // eslint-disable-next-line no-var
  var faultline: {
    /** Arms `config` for `fn` (this test's process and its children); resolves to fn's value. */
    with<T>(config: ConfigSource, fn: (faults: FaultsHandle) => T | Promise<T>): Promise<T>
  }
}
export {}
