describe('the test runtime', () => {
  it('is Node.js 22 or later, as Azure runs the app', () => {
    const major = Number(process.versions.node.split('.')[0]);
    expect(major).toBeGreaterThanOrEqual(22);
  });
});
